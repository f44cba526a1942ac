"""What `initlab grade` accepts as one submission: its own files, within the caps of
bulk grading; a link, a file too large or a notebook nested too deeply is a one-line
reason and exit status 2, never another student's work or the machine's failure."""

import json
from pathlib import Path

import pytest

from initlab.cli import main
from initlab.sandbox import MAX_BYTES, MAX_FILES

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "graders" / "solutions" / "initialization"
INITIALIZATION = (SOLUTIONS / "initialization.py").read_text()
NOTEBOOK = json.dumps({"cells": [{"cell_type": "code", "source": INITIALIZATION}], "nbformat": 4})


def refused(capsys, path: Path) -> str:
    assert main(["grade", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1, captured
    assert captured.err.startswith("initlab grade: ")
    return captured.err


@pytest.fixture
def other_student(tmp_path) -> Path:
    """Another student's folder with a correct notebook and module."""
    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / "Initialization.ipynb").write_text(NOTEBOOK)
    (folder / "initialization.py").write_text(INITIALIZATION)
    return folder


@pytest.mark.parametrize("name", ["Initialization.ipynb", "initialization.py"])
def test_a_linked_file_in_a_folder_is_refused(tmp_path, capsys, other_student, name):
    folder = tmp_path / "bob"
    folder.mkdir()
    (folder / name).symlink_to(other_student / name)
    assert "is a symbolic link" in refused(capsys, folder)


def test_a_linked_notebook_or_folder_is_refused(tmp_path, capsys, other_student):
    (tmp_path / "bob.ipynb").symlink_to(other_student / "Initialization.ipynb")
    assert "is a symbolic link" in refused(capsys, tmp_path / "bob.ipynb")
    (tmp_path / "bob").symlink_to(other_student)
    assert "is a symbolic link" in refused(capsys, tmp_path / "bob")


def test_a_linked_helper_beside_a_notebook_is_refused(tmp_path, capsys, other_student):
    folder = tmp_path / "bob"
    folder.mkdir()
    (folder / "mine.ipynb").write_text(NOTEBOOK)
    (folder / "init_utils.py").symlink_to(other_student / "initialization.py")
    assert "init_utils.py is a symbolic link" in refused(capsys, folder / "mine.ipynb")


def test_a_submission_past_the_caps_of_bulk_grading_is_refused_with_the_reason(tmp_path, capsys):
    """A 70 MB file beside the solution (sparse: never read) is the submission's fault,
    said as such, not "the sandboxed child did not start"."""
    folder = tmp_path / "erin"
    folder.mkdir()
    (folder / "initialization.py").write_text(INITIALIZATION)
    with open(folder / "weights.bin", "wb") as sparse:
        sparse.truncate(70 * 1024 * 1024)
    err = refused(capsys, folder)
    assert f"more than {MAX_FILES} files or {MAX_BYTES} bytes" in err


def test_a_submission_of_too_many_files_is_refused(tmp_path, capsys):
    folder = tmp_path / "erin"
    folder.mkdir()
    (folder / "initialization.py").write_text(INITIALIZATION)
    for i in range(MAX_FILES):
        (folder / f"note{i}.txt").write_text("x")
    assert f"more than {MAX_FILES} files" in refused(capsys, folder)


def test_a_notebook_nested_200000_levels_deep_is_a_reason_not_a_traceback(tmp_path, capsys):
    notebook = tmp_path / "deep.ipynb"
    notebook.write_text('{"cells": ' + "[" * 200_000 + "]" * 200_000 + "}")
    assert "nested too deeply" in refused(capsys, notebook)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "Initialization.ipynb").write_text(notebook.read_text())
    assert "nested too deeply" in refused(capsys, folder)
