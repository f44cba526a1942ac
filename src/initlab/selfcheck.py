"""The students' self-check: ``pytest`` in the assignment folder grades their work.

``assignment/<name>/test_assignment.py`` has one test per function of the
rubric, which passes when the function earns all its points and otherwise fails
with the diagnosis; ``assignment/<name>/conftest.py`` imports this module's
hooks: the ``--rubric`` option, the tests' parameters, and the points table
printed at the end. Grading is ``initlab grade``'s (the public checks): the
student's code runs in a separate process, each function is graded from the
file where it is written (the modules or the notebook), and the expected values
are computed by this package when the tests run.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from initlab import assignments
from initlab.checks import Verdict
from initlab.grading import Report, grade

_graded: list[Report] = []


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--rubric",
        default=None,
        help="the rubric to check against (default: the assignment's own, 'full')",
    )


def pytest_generate_tests(metafunc) -> None:
    """One test per function of the rubric: ``test_function(function)``."""
    if "function" in metafunc.fixturenames:
        name = getattr(metafunc.module, "ASSIGNMENT", None)
        points = assignments.get(name).points(metafunc.config.getoption("--rubric"))
        metafunc.parametrize("function", list(points))


@cache
def _report(folder: Path, assignment: str | None, rubric: str | None) -> Report:
    report = grade(folder, assignment=assignment, rubric=rubric)
    _graded.append(report)
    return report


def verdict_for(
    folder: Path, function: str, assignment: str | None = None, rubric: str | None = None
) -> Verdict:
    """The verdict on one function of the submission in folder (graded once per run)."""
    report = _report(folder.resolve(), assignment, rubric)
    return next(t for t in report.tests if t.name == function)


def failure_message(verdict: Verdict) -> str:
    where = f" (graded from {verdict.source})" if verdict.source else ""
    return f"{verdict.score:g} / {verdict.max_score:g} points{where}\n{verdict.message}"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The points table, after pytest's own summary."""
    for report in _graded:
        terminalreporter.section("points")
        for test in report.tests:
            source = f"  ({test.source})" if test.source else ""
            terminalreporter.write_line(
                f"{test.name:<32}{test.score:>6g} / {test.max_score:<5g}{test.status}{source}"
            )
            for diagnosis in test.diagnoses:
                terminalreporter.write_line(f"    [{diagnosis.code}] {diagnosis.message}")
        terminalreporter.write_line(f"{'total':<32}{report.score:>6g} / {report.max_score:g}")
