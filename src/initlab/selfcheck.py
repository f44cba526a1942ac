"""The students' self-check: ``pytest`` in the assignment folder grades their work.

``assignment/test_assignment.py`` has one test per function, which passes when
the function earns all its points and otherwise fails with the diagnosis;
``assignment/conftest.py`` imports ``pytest_terminal_summary`` from here, which
prints the points of every function at the end. Grading is ``initlab grade``'s
(the public checks): the student's code runs in a separate process and the
expected values are computed by this package when the tests run.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from initlab.checks import Verdict
from initlab.grading import RUBRIC, Report, grade

FUNCTIONS = list(RUBRIC)
_graded: list[Report] = []


@cache
def _report(folder: Path) -> Report:
    report = grade(folder)
    _graded.append(report)
    return report


def verdict_for(folder: Path, function: str) -> Verdict:
    """The verdict on one function of the submission in folder (graded once per run)."""
    return next(t for t in _report(folder.resolve()).tests if t.name == function)


def failure_message(verdict: Verdict) -> str:
    return f"{verdict.score:g} / {verdict.max_score:g} points\n{verdict.message}"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The points table, after pytest's own summary."""
    for report in _graded:
        terminalreporter.section("points")
        for test in report.tests:
            terminalreporter.write_line(
                f"{test.name:<32}{test.score:>6g} / {test.max_score:<5g}{test.status}"
            )
            for diagnosis in test.diagnoses:
                terminalreporter.write_line(f"    [{diagnosis.code}] {diagnosis.message}")
        terminalreporter.write_line(f"{'total':<32}{report.score:>6g} / {report.max_score:g}")
