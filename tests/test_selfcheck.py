"""A student's `pytest` in a copy of assignment/: points per function, the diagnosis on failure."""

import shutil
import subprocess
import sys
from pathlib import Path

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
