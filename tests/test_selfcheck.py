"""A student's `pytest` in a copy of assignment/: points per function, the diagnosis on failure."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each test runs a student's pytest in a subprocess
ROOT = Path(__file__).resolve().parents[1]


def student_copy(tmp_path, **replacements):
    """A copy of assignment/ as a student has it, with some files replaced."""
    folder = tmp_path / "assignment"
    shutil.copytree(
        ROOT / "assignment" / "initialization", folder, ignore=shutil.ignore_patterns("__pycache__")
    )
    for name, text in replacements.items():
        (folder / f"{name}.py").write_text(text)
    return folder


def run_pytest(folder):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode, result.stdout


def solution(name):
    return (ROOT / "graders" / "solutions" / "initialization" / f"{name}.py").read_text()


def test_released_assignment_fails_every_test_with_zero_points(tmp_path):
    code, out = run_pytest(student_copy(tmp_path))
    assert code == 1
    assert "8 failed" in out and "total" in out and "0 / 100" in out
    assert out.count("[not_implemented]") == 8


def test_finished_assignment_passes_with_all_points(tmp_path):
    folder = student_copy(
        tmp_path, initialization=solution("initialization"), propagation=solution("propagation")
    )
    code, out = run_pytest(folder)
    assert code == 0, out
    assert "8 passed" in out and "100 / 100" in out


def test_a_mistake_is_named_in_the_failure_and_costs_only_its_points(tmp_path):
    wrong = solution("propagation").replace(
        "np.multiply(np.dot(W.T, dZ), np.int64(A_prev > 0))", "np.dot(W.T, dZ)"
    )
    assert wrong != solution("propagation")
    folder = student_copy(tmp_path, initialization=solution("initialization"), propagation=wrong)
    code, out = run_pytest(folder)
    assert code == 1
    assert "1 failed, 7 passed" in out
    assert "relu_derivative_wrong" in out and "ReLU derivative is left out" in out
    assert "80 / 100" in out


def test_the_output_a_student_reads(tmp_path):
    """Each failing function once, with its diagnosis and what it printed (escapes
    stripped); nothing of a correct function, not even its prints or the grader's
    warnings; the points table last."""
    loud = (
        solution("propagation")
        .replace(
            "    logprobs = np.multiply",
            "    print('loss for', AL.shape)\n    logprobs = np.multiply",
        )
        .replace(
            'grads["db" + str(l)] = np.sum(dZ, axis=1, keepdims=True)',
            'grads["db" + str(l)] = np.sum(dZ, axis=1)\n        print("\\x1b[2Jlayer", l)',
        )
    )
    assert loud.count("print(") == 2
    folder = student_copy(tmp_path, initialization=solution("initialization"), propagation=loud)
    code, out = run_pytest(folder)
    assert code == 1
    # its failure header, "What backward_propagation printed", and its row of the table
    assert out.count("[db_shape]") == 1 and out.count("backward_propagation") == 3
    assert "What backward_propagation printed while it was checked" in out
    assert "layer 3" in out and "\x1b" not in out
    assert "loss for" not in out and "RuntimeWarning" not in out and "warnings summary" not in out
    assert "short test summary" not in out
    assert out.index("points ====") > out.index("FAILURES")
