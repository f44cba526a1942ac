"""The checks of a notebook's test cells (nbgrader's autograder cells).

A test cell calls ``check("initialize_parameters_he", globals())``: the
function defined in the notebook is called with the inputs ``initlab grade``
uses, and its results are judged by the same checks, worth the same points
(the assignment's rubric, ``full`` by default). The cell prints the verdict and ends with the
score, which nbgrader takes as the cell's partial credit.

What the student's code prints or warns while it is checked is shown on
standard output afterwards, never on standard error: nbgrader gives 0 to a test
cell with anything on standard error, and a warning must not cost points. A
function that runs longer than its time limit scores 0, and the cell goes on.

The student's code runs in the notebook's own process here, as everything in
an nbgrader notebook does; ``initlab grade NOTEBOOK`` runs the same checks
with the student's code in a separate process.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator

from initlab import _child, assignments, grading
from initlab.assignments.base import Outcome, Plan, Step
from initlab.checks import Verdict
from initlab.i18n import N_, _, speaking

__all__ = ["check", "DEFAULT_TIMEOUT"]

DEFAULT_TIMEOUT = grading.DEFAULT_TIMEOUT
SHOWN_OUTPUT = 2000  # characters of what the student's code printed that are shown
_OWN_FILES = {__file__, contextlib.__file__}


def check(
    name: str,
    namespace: dict,
    *,
    hidden: bool = False,
    timeout: float | None = None,
    assignment: str | None = None,
    rubric: str | None = None,
    lang: str | None = None,
) -> float:
    """Check the function ``name`` of namespace (the notebook's ``globals()``),
    print the verdict, and return the points it earned.

    hidden adds the instructors' networks, drawn afresh on every run. timeout is
    the seconds all the calls of the function may take together (default: the
    ``INITLAB_CHECK_TIMEOUT`` environment variable, else 10). assignment and
    rubric choose the points (default: the Initialization assignment, its full rubric).
    lang is the language of the verdict, "en" or "zh" (default: ``INITLAB_LANG``, else
    the locale, else English).
    """
    with speaking(lang):
        return _check(name, namespace, hidden, timeout, assignment, rubric)


def _check(name, namespace, hidden, timeout, assignment, rubric) -> float:
    task = assignments.get(assignment)
    points = task.points(rubric)
    if name not in points:
        raise ValueError(f"no check for {name!r}; the checked functions are {list(points)}")
    if not isinstance(namespace, dict):
        raise TypeError(
            f"namespace must be a dict such as globals(), not {type(namespace).__name__}"
        )
    limit = timeout if timeout is not None else _default_timeout()
    plan = task.make_plan(hidden).only([name])
    printed = io.StringIO()
    outcomes = _run(plan.steps, plan, namespace, limit, printed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the grader's own arithmetic on odd results
        verdict = task.judge_function(name, plan, outcomes, points[name])
    print(_report(verdict, printed.getvalue()))
    return float(min(round(verdict.score, 6), verdict.max_score))


def _default_timeout() -> float:
    text = os.environ.get("INITLAB_CHECK_TIMEOUT", "")
    try:
        value = float(text)
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def _run(
    steps: list[Step],
    plan: Plan,
    namespace: dict,
    limit: float,
    printed: io.StringIO,
) -> dict[str, Outcome]:
    """The outcome of every step, calling the namespace's functions in this process;
    a function that times out shares that outcome with its remaining calls."""
    outcomes: dict[str, Outcome] = {}
    results: dict = {}
    warned: dict[str, int] = {}
    spent: dict[str, float] = {}
    for step in steps:
        stuck = next((o for o in _shared(outcomes, steps, step) if o.status == "timeout"), None)
        if stuck is not None:
            outcomes[step.id] = stuck
            continue
        function = namespace.get(step.function)
        if not callable(function):
            outcomes[step.id] = Outcome("missing_function")
            continue
        budget = limit - spent.get(step.function, 0.0)
        start = time.perf_counter()
        frames: list = []  # what the child would send on its channel, collected here
        try:
            with _captured(printed, warned), _child.time_limit(budget, _OWN_FILES):
                passthrough = (_child.TimeLimit,)
                _child.call_step(step.plan(), function, plan.inputs, results, frames, passthrough)
        except _child.TimeLimit:
            outcomes[step.id] = Outcome(
                "timeout",
                error=_("{function} did not finish in {seconds:g} s").format(
                    function=step.function, seconds=limit
                ),
            )
            continue
        finally:
            spent[step.function] = spent.get(step.function, 0.0) + time.perf_counter() - start
        received = grading._received(frames)
        outcomes[step.id] = grading._outcome(received.records[step.id], received.arrays)
    for text, count in warned.items():  # once each: the same warning comes from every call
        times = _(" ({count} times)").format(count=count) if count > 1 else ""
        printed.write(text + times + "\n")
    return outcomes


def _shared(outcomes: dict, steps: list[Step], step: Step) -> list:
    return [outcomes[s.id] for s in steps if s.function == step.function and s.id in outcomes]


@contextlib.contextmanager
def _captured(printed: io.StringIO, warned: dict[str, int]) -> Iterator[None]:
    """Everything the block writes (print, sys.stderr, file descriptors 1 and 2)
    goes into printed; warned counts its warnings by text."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with tempfile.TemporaryFile() as sink:
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            with (
                contextlib.redirect_stdout(printed),
                contextlib.redirect_stderr(printed),
                warnings.catch_warnings(record=True) as caught,
            ):
                warnings.simplefilter("always")
                yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            printed.write(sink.read().decode("utf-8", "replace"))
        for warning in caught:
            text = f"{warning.category.__name__}: {warning.message}"
            warned[text] = warned.get(text, 0) + 1


PRINTED = N_("What {name} printed while it was checked (this costs no points):")


def _report(verdict: Verdict, printed: str) -> str:
    """The verdict as the student reads it under the test cell."""
    lines = [
        _("{name}: {score:g} / {max_score:g} points").format(
            name=verdict.name, score=verdict.score, max_score=verdict.max_score
        )
    ]
    if verdict.status == "passed" and verdict.score == verdict.max_score:
        lines[0] += _(" - correct")
    for diagnosis in verdict.diagnoses:
        lines.append(f"  [{diagnosis.code}] {diagnosis.message}")
    if printed.strip():
        shown = printed if len(printed) <= SHOWN_OUTPUT else printed[:SHOWN_OUTPUT] + "\n..."
        lines.append("\n" + _(PRINTED).format(name=verdict.name))
        lines.append(shown.rstrip())
    return "\n".join(lines)
