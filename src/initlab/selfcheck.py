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

import re
import warnings
from functools import cache
from pathlib import Path

import numpy as np

from initlab import assignments
from initlab.checks import Verdict
from initlab.checks.notebook import PRINTED
from initlab.grading import Report, grade
from initlab.i18n import LANGUAGES, _, pad, set_language, status

_graded: list[Report] = []


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--rubric",
        default=None,
        help=_("the rubric to check against (default: the assignment's own, 'full')"),
    )
    parser.addoption(
        "--lang",
        default=None,
        choices=LANGUAGES,
        help=_("the language of the messages, en or zh (default: INITLAB_LANG, else the locale)"),
    )


def pytest_configure(config) -> None:
    lang = config.getoption("--lang", None)
    if lang:
        set_language(lang)


def pytest_generate_tests(metafunc) -> None:
    """One test per function of the rubric: ``test_function(function)``."""
    if "function" in metafunc.fixturenames:
        name = getattr(metafunc.module, "ASSIGNMENT", None)
        points = assignments.get(name).points(metafunc.config.getoption("--rubric"))
        metafunc.parametrize("function", list(points))


@cache
def _report(folder: Path, assignment: str | None, rubric: str | None) -> Report:
    # The grader's own arithmetic on odd results (log 0) is not the student's warning.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
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
    """What a student reads for a function that lost points: the points, the file it
    was graded from, every diagnosis, and what the function printed while checked."""
    where = _(" (graded from {source})").format(source=verdict.source) if verdict.source else ""
    points = _("{score:g} / {max_score:g} points").format(
        score=verdict.score, max_score=verdict.max_score
    )
    lines = [points + where]
    lines += [f"[{d.code}] {d.message}" for d in verdict.diagnoses]
    if verdict.output.strip():
        lines.append(_(PRINTED).format(name=verdict.name))
        lines.append(as_text(verdict.output).rstrip())
    return "\n".join(lines)


def as_text(text: str) -> str:
    """Student output as plain text: no terminal escapes or other control characters."""
    return _CONTROL.sub("", _ESCAPE.sub("", text))


_ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|.)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The points table: the points of every function, after the failures."""
    for report in _graded:
        terminalreporter.section(_("points"))
        for test in report.tests:
            source = f"  ({test.source})" if test.source else ""
            terminalreporter.write_line(
                f"{test.name:<32}{test.score:>6g} / {test.max_score:<5g}{status(test.status)}"
                f"{source}"
            )
        total = pad(_("total"), 32)
        terminalreporter.write_line(f"{total}{report.score:>6g} / {report.max_score:g}")
