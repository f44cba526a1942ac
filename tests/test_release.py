"""The stubs in assignment/ are generated from graders/solutions/ and leak no solution."""

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from initlab import assignments
from initlab.cli import main
from initlab.release import (
    NBGRADER_OUTPUT,
    ReleaseError,
    release,
    solution_lines,
    strip_solutions,
)

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "graders" / "solutions" / "initialization"
ASSIGNMENT = ROOT / "assignment" / "initialization"
MODULES = ["initialization.py", "propagation.py"]
COURSE = ROOT / "graders" / "nbgrader"


def load(path):
    spec = importlib.util.spec_from_file_location(f"stub_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Every assignment: its solution folder and the folder its students get.
FOLDERS = {
    name: (ROOT / "graders" / "solutions" / name, ROOT / "assignment" / name)
    for name in assignments.names()
}
STUBS = [(name, f"{module}.py") for name in FOLDERS for module in assignments.get(name).modules]


@pytest.mark.parametrize("assignment, name", STUBS)
def test_assignment_stub_is_the_generated_one(assignment, name):
    """Edit graders/solutions/<assignment>/ and run `initlab release --assignment NAME
    --force`; never edit the stubs."""
    solutions, students = FOLDERS[assignment]
    expected = strip_solutions((solutions / name).read_text())
    assert (students / name).read_text() == expected, (
        f"assignment/{assignment}/{name} has drifted from graders/solutions/{assignment}/{name}:"
        f" run `initlab release --assignment {assignment} --force`"
    )


@pytest.mark.parametrize("assignment", sorted(FOLDERS))
def test_no_solution_line_reaches_the_students(assignment):
    """Not in the stubs, not in the self-check: no file of assignment/ holds an answer."""
    solutions, students = FOLDERS[assignment]
    modules = [name for a, name in STUBS if a == assignment]
    secret = [line for name in modules for line in solution_lines((solutions / name).read_text())]
    assert len(secret) >= 15
    shipped = sorted(p for p in students.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert {p.name for p in shipped} >= {*modules, "test_assignment.py", "conftest.py"}
    for path in shipped:
        text = path.read_text()
        lines = {line.strip() for line in text.splitlines()}
        assert [line for line in secret if line in lines] == [], path.name
        assert "SOLUTION" not in text, path.name


@pytest.mark.parametrize(
    "name, calls",
    [
        (
            "initialization.py",
            {
                "initialize_parameters_zeros": ([2, 3, 1],),
                "initialize_parameters_random": ([2, 3, 1],),
                "initialize_parameters_he": ([2, 3, 1],),
                "initialize_parameters_xavier": ([2, 3, 1],),
            },
        ),
        (
            "propagation.py",
            {
                "forward_propagation": (np.ones((2, 3)), {}),
                "compute_loss": (np.full((1, 3), 0.5), np.ones((1, 3))),
                "backward_propagation": (np.ones((2, 3)), np.ones((1, 3)), []),
                "update_parameters": ({}, {}, 0.1),
            },
        ),
    ],
)
def test_every_stub_raises_not_implemented(name, calls):
    module = load(ASSIGNMENT / name)
    for function, args in calls.items():
        with pytest.raises(NotImplementedError):
            getattr(module, function)(*args)


@pytest.mark.parametrize(
    "source, words",
    [
        ("### BEGIN SOLUTION\nx = 1\n", ["line 1", "never closed"]),
        ("x = 1\n### END SOLUTION\n", [":2:", "without"]),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", [":2:", "inside"]),
    ],
)
def test_broken_fences_are_named_with_their_line(source, words):
    with pytest.raises(ReleaseError) as info:
        strip_solutions(source.replace("line 1", ""), "s.py")
    message = str(info.value).replace("s.py:1:", "line 1")
    for word in words:
        assert word in message


def test_stub_keeps_the_indentation_of_the_fence():
    source = "def f():\n    x = 0\n    ### BEGIN SOLUTION\n    x = 42\n    ### END SOLUTION\n    return x\n"
    assert strip_solutions(source) == (
        "def f():\n    x = 0\n    # YOUR CODE HERE\n    raise NotImplementedError()\n    return x\n"
    )


def test_release_does_not_overwrite_without_force(tmp_path, capsys):
    work = tmp_path / "initialization.py"
    work.write_text("my work")
    no_course = ["--course", str(tmp_path / "no-course")]
    assert main(["release", str(tmp_path), "--source", str(SOLUTIONS), *no_course]) == 2
    assert "--force" in capsys.readouterr().err
    assert work.read_text() == "my work"
    assert main(["release", str(tmp_path), "--source", str(SOLUTIONS), *no_course, "--force"]) == 0
    assert work.read_text() == (ASSIGNMENT / "initialization.py").read_text()


@pytest.mark.slow
def test_release_regenerates_the_committed_assignment(tmp_path):
    """`initlab release assignment --force` on a copy of the course rewrites nothing
    in its source notebook, and writes exactly the stubs and the notebook of assignment/."""
    course = tmp_path / "course"
    shutil.copytree(COURSE, course, ignore=shutil.ignore_patterns(*NBGRADER_OUTPUT))
    source = course / "source" / "initialization" / "Initialization.ipynb"
    before = source.read_text()
    out = tmp_path / "out"
    args = ["release", str(out), "--source", str(SOLUTIONS), "--course", str(course)]
    assert main(args) == 0
    assert source.read_text() == before, "the course notebook drifted from graders/solutions/"
    for name in [*MODULES, "Initialization.ipynb"]:
        assert (out / name).read_text() == (ASSIGNMENT / name).read_text(), (
            f"assignment/{name} is not what `initlab release assignment --force` writes"
        )
    (out / "Initialization.ipynb").write_text("my work")
    assert main(args) == 2, "the released notebook must not be overwritten without --force"
    assert (out / "Initialization.ipynb").read_text() == "my work"
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "Initialization.ipynb").write_text("my work")
    assert main(["release", str(fresh), "--source", str(SOLUTIONS), "--course", str(course)]) == 2
    assert sorted(p.name for p in fresh.iterdir()) == ["Initialization.ipynb"], (
        "nothing is written when the release is refused"
    )


def test_release_into_a_file_is_one_line(tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    args = ["release", str(target), "--source", str(SOLUTIONS), "--course", str(tmp_path / "no")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "exists and is not a folder" in err and len(err.splitlines()) == 1
    assert target.read_text() == "mine"


def test_release_refuses_the_solution_folder_and_a_missing_source(tmp_path, capsys):
    with pytest.raises(ReleaseError):
        release(SOLUTIONS, SOLUTIONS, force=True)
    assert main(["release", str(tmp_path), "--source", str(tmp_path / "nope")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_the_course_configuration_loads_whole():
    """nbgrader drops a configuration file that raises, settings and all, with only a
    log line: this one must load, with its settings and its OverwriteCells."""
    from traitlets.config.loader import PyFileConfigLoader

    from initlab.nbgrader_support import HiddenTestsOverwriteCells

    config = PyFileConfigLoader("nbgrader_config.py", path=str(COURSE)).load_config()
    assert config.ExecutePreprocessor.timeout == 60 and config.Autograde.create_student
    assert HiddenTestsOverwriteCells in config.Autograde.sanitize_preprocessors
