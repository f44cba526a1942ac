"""The checks of the notebook's test cells, run in this process as a kernel runs them."""

import json
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from initlab.assignments.initialization import RUBRICS
from initlab.checks.notebook import check
from initlab.grading import grade
from initlab.release import without_fences

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = RUBRICS["full"]
SOLUTIONS = ROOT / "graders" / "solutions" / "initialization"


@pytest.fixture(scope="module")
def solutions():
    """The namespace of a notebook whose cells hold the solutions."""
    namespace = {}
    for module in ("initialization", "propagation"):
        exec((SOLUTIONS / f"{module}.py").read_text(), namespace)
    return namespace


@pytest.mark.parametrize("name", list(RUBRIC))
def test_the_solution_earns_every_point_and_writes_nothing_on_stderr(name, solutions, capfd):
    assert check(name, solutions) == RUBRIC[name]
    out, err = capfd.readouterr()
    assert err == "", "nbgrader gives 0 to a test cell with output on stderr"
    assert out.startswith(f"{name}: {RUBRIC[name]} / {RUBRIC[name]} points - correct")


def test_the_hidden_checks_run_more_networks(solutions, capfd):
    assert check("backward_propagation", solutions, hidden=True) == 20
    wrong = dict(solutions)

    def backward_for_three_layers(X, Y, cache):  # the course's depth, hard-wired
        grads = solutions["backward_propagation"](X, Y, cache)
        if len(cache) - 1 != 3:
            grads = {k: np.zeros_like(v) for k, v in grads.items()}
        return grads

    wrong["backward_propagation"] = backward_for_three_layers
    assert check("backward_propagation", wrong, hidden=True) < 20
    assert capfd.readouterr().err == ""


def test_what_the_student_code_prints_goes_to_stdout_after_the_verdict(solutions, capfd):
    import os
    import sys
    import warnings

    def noisy_zeros(layers_dims):
        print("print from the student")
        sys.stderr.write("sys.stderr from the student\n")
        os.write(2, b"file descriptor 2 from the student\n")
        warnings.warn("a warning from the student", stacklevel=1)
        np.log(0.0)  # RuntimeWarning: divide by zero
        return solutions["initialize_parameters_zeros"](layers_dims)

    assert check("initialize_parameters_zeros", {"initialize_parameters_zeros": noisy_zeros}) == 10
    out, err = capfd.readouterr()
    assert err == ""
    verdict, printed = out.split("printed while it was checked", 1)
    assert "10 / 10 points - correct" in verdict
    for text in (
        "print from the student",
        "sys.stderr from the student",
        "file descriptor 2 from the student",
        "UserWarning: a warning from the student",
        "RuntimeWarning: divide by zero encountered in log",
    ):
        assert text in printed
    assert "times)" in printed, "a warning repeated on every call is listed once, with its count"


def swallows_around_sleep(layers_dims):
    while True:
        try:
            time.sleep(0.01)
        except BaseException:  # a bare except tries to swallow the time limit
            pass


def swallows_in_a_busy_loop(layers_dims):
    while True:
        try:
            pass
        except BaseException:
            continue


def sleeps_for_ever(layers_dims):
    time.sleep(3600)


@pytest.mark.parametrize(
    "stubborn", [swallows_around_sleep, swallows_in_a_busy_loop, sleeps_for_ever]
)
def test_a_function_that_never_returns_scores_zero_and_the_cell_goes_on(stubborn, capfd):

    start = time.perf_counter()
    score = check("initialize_parameters_he", {"initialize_parameters_he": stubborn}, timeout=0.5)
    elapsed = time.perf_counter() - start
    assert score == 0.0
    assert "[timeout] initialize_parameters_he did not finish in 0.5 s" in capfd.readouterr().out
    assert elapsed < 5, f"every call of the function shares one time limit; took {elapsed:.1f} s"
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0), "the timer is left running"
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.default_int_handler)


def test_a_missing_function_is_named_and_backward_needs_no_forward(solutions, capfd):
    assert check("update_parameters", {}) == 0.0
    assert "[missing_function] update_parameters is not defined" in capfd.readouterr().out
    # backward is checked with a correct cache: it needs no forward_propagation
    only_backward = {"backward_propagation": solutions["backward_propagation"]}
    assert check("backward_propagation", only_backward) == 20.0
    assert "20 / 20 points - correct" in capfd.readouterr().out


def test_a_wrong_name_or_namespace_is_a_clear_error():
    with pytest.raises(ValueError, match="no check for 'initialize_parameters_hee'"):
        check("initialize_parameters_hee", {})
    with pytest.raises(TypeError, match="namespace must be a dict such as globals()"):
        check("compute_loss", None)


def test_initlab_grade_runs_only_a_notebooks_definitions(tmp_path):
    """Training, plots, test cells and top-level loops are the notebook's, not the
    functions': grading a notebook defines its functions and leaves the rest."""
    cells = ["import numpy as np\nLAYERS_DIMS = [2, 10, 5, 1]\n%matplotlib inline"]
    for module in ("initialization", "propagation"):
        source = (SOLUTIONS / f"{module}.py").read_text()
        cells.append(without_fences(source))
    cells.append("while True:\n    pass")
    cells.append("x = np.zeros(3)\nx[0] = 1.0\nparameters = initialize_parameters_he(LAYERS_DIMS)")
    cells.append('check("initialize_parameters_he", globals())')
    notebook = {
        "cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": []} for c in cells],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "submission.ipynb"
    path.write_text(json.dumps(notebook))
    report = grade(path, timeout=5)
    assert report.score == 100, [t.to_json() for t in report.tests if t.score < t.max_score]


def test_a_check_cell_can_score_with_the_course_rubric(capsys):
    namespace = {}
    exec((SOLUTIONS / "initialization.py").read_text(), namespace)
    assert check("initialize_parameters_he", namespace, rubric="course") == 10
    assert "10 / 10 points - correct" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no check for 'forward_propagation'"):
        check("forward_propagation", namespace, rubric="course")
