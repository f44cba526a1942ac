"""The Gradescope autograder: the zip `initlab gradescope autograder` writes, set up
and run in Gradescope's /autograder layout, and the results.json it writes."""

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from initlab import gradescope
from initlab.cli import main
from initlab.ledger import Result

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "graders" / "solutions" / "initialization"
COURSE_2021 = ROOT / "tests" / "fixtures" / "course" / "edition2021"

# Gradescope's results.json, as its autograder specification describes it.
TEST = {
    "type": "object",
    "required": ["name", "score", "max_score", "status", "output", "visibility"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "score": {"type": "number", "minimum": 0},
        "max_score": {"type": "number", "exclusiveMinimum": 0},
        "status": {"enum": ["passed", "failed"]},
        "output": {"type": "string"},
        "visibility": {"enum": list(gradescope.VISIBILITIES)},
    },
}
RESULTS = {
    "type": "object",
    "required": ["score", "execution_time", "output", "output_format", "tests"],
    "properties": {
        "score": {"type": "number", "minimum": 0},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "test_output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "tests": {"type": "array", "minItems": 1, "items": TEST},
    },
}


def test_results_json_follows_gradescope_and_keeps_student_text_plain():
    message = "W1 is wrong <b>\x1b[31mred</b>"
    test = {"name": "initialize_parameters_he", "score": 0.0, "max_score": 10.0,
            "status": "failed", "diagnoses": ["wrong_scale"], "message": message}  # fmt: skip
    result = Result("s", "d", "v", True, "ok", 0.0, 10.0, tests=[test], seconds=1.25)
    written = gradescope.results(result, "after_published")
    jsonschema.validate(written, RESULTS)
    assert written["output_format"] == "text" and written["execution_time"] == 1.25
    assert written["tests"][0]["visibility"] == "after_published"
    assert "\x1b" not in written["tests"][0]["output"]
    broken = {**written, "tests": [{**written["tests"][0], "status": "error"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, RESULTS)


def test_the_zip_has_gradescope_layout_and_pins_what_is_installed(tmp_path):
    out = tmp_path / "autograder.zip"
    assert main(["gradescope", "autograder", str(out), "--rubric", "course", "--source",
                 str(ROOT), "--hidden"]) == 0  # fmt: skip
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        config = json.loads(archive.read(gradescope.CONFIG))
        pins = archive.read("requirements.txt").decode().split()
    assert {"setup.sh", "run_autograder"} <= set(names)
    assert modes["setup.sh"] & stat.S_IXUSR and modes["run_autograder"] & stat.S_IXUSR
    assert "initlab/src/initlab/_kernel.pyx" in names and "initlab/pyproject.toml" in names
    assert not [n for n in names if n.endswith((".so", ".pyc")) or "__pycache__" in n]
    assert config["rubric"] == "course" and config["hidden"] is True
    assert config["visibility"] == "after_published"
    import numpy

    assert f"numpy=={numpy.__version__}" in pins
    assert all("==" in pin for pin in pins), pins


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["x.tar"], "does not end in .zip"),
        (["x.zip", "--rubric", "nope"], "nope"),
        (["x.zip", "--source", "."], "is not the initlab project folder"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, capsys, monkeypatch, argv, expected):
    monkeypatch.chdir(tmp_path)
    assert main(["gradescope", "autograder", *argv]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1, err
    assert not list(tmp_path.iterdir())


def test_an_existing_zip_is_kept_without_force(tmp_path, capsys):
    out = tmp_path / "autograder.zip"
    out.write_bytes(b"the instructor's own")
    assert main(["gradescope", "autograder", str(out), "--source", str(ROOT)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_bytes() == b"the instructor's own"
    assert main(["gradescope", "autograder", str(out), "--source", str(ROOT), "--force"]) == 0
    assert zipfile.is_zipfile(out)


# --- the zip set up and run in the /autograder layout --------------------------------


def _bwrap() -> str | None:
    from initlab.sandbox import _bwrap_path

    found = _bwrap_path()
    return str(found) if found else None


def _in_autograder(tree: Path, command: list[str], binds: list[str], env: dict) -> subprocess.CompletedProcess:
    """command with tree mounted at /autograder, in a root of the host's /usr and /etc."""
    argv = [
        _bwrap(), "--die-with-parent", "--unshare-pid",
        "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc",
        "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
        "--bind", str(tree), "/autograder", *binds, "--clearenv",
        "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "HOME", "/tmp",
    ]  # fmt: skip
    for name, value in env.items():
        argv += ["--setenv", name, value]
    return subprocess.run(argv + command, capture_output=True, text=True, timeout=900)


def _mistaken_notebook(folder: Path) -> Path:
    """The 2021 course notebook whose He initialization uses Xavier's scale."""
    shutil.copytree(COURSE_2021, folder)
    notebook = folder / "Initialization.ipynb"
    text = notebook.read_text()
    he = "* np.sqrt(2./layers_dims[l-1])"
    assert text.count(he) == 1
    notebook.write_text(text.replace(he, "* np.sqrt(1./layers_dims[l-1])"))
    return folder


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the /autograder layout is Linux's")
def test_the_autograder_sets_up_from_a_wheelhouse_and_grades_like_initlab_grade(tmp_path):
    if _bwrap() is None or not Path("/usr/bin/python3").exists():
        pytest.skip("needs bubblewrap and a system Python in /usr/bin to stage /autograder")
    system_python = subprocess.run(
        ["/usr/bin/python3", "-c", "import sys, venv, ensurepip; print(sys.version_info[:2])"],
        capture_output=True, text=True,
    )  # fmt: skip
    if system_python.stdout.strip() != str(tuple(sys.version_info[:2])):
        pytest.skip(f"the pins are for Python {sys.version_info[:2]}; /usr/bin/python3 differs")
    out = tmp_path / "autograder.zip"
    assert main(["gradescope", "autograder", str(out), "--source", str(ROOT)]) == 0
    tree = tmp_path / "autograder"
    source = tree / "source"
    source.mkdir(parents=True)
    with zipfile.ZipFile(out) as archive:
        for info in archive.infolist():  # Gradescope keeps the modes the zip gives
            archive.extract(info, source)
            os.chmod(source / info.filename, info.external_attr >> 16 & 0o777)
    shutil.copy2(source / "run_autograder", tree / "run_autograder")

    # The package index, local: only what the zip pins (and builds with) is there.
    wheelhouse = tmp_path / "wheelhouse"
    fetched = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "-d", str(wheelhouse),
         "-r", str(source / "requirements.txt"), "-r", str(source / "requirements-build.txt")],
        capture_output=True, text=True,
    )  # fmt: skip
    if fetched.returncode != 0:
        pytest.skip(f"the package index is not reachable: {fetched.stderr.strip()[-200:]}")
    index = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/wheelhouse",
             "PIP_DISABLE_PIP_VERSION_CHECK": "1"}  # fmt: skip
    setup = _in_autograder(
        tree, ["bash", "/autograder/source/setup.sh"],
        ["--ro-bind", str(wheelhouse), "/wheelhouse"], index,
    )  # fmt: skip
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-2000:]
    assert "initlab 0.1" in setup.stdout

    good = tmp_path / "good"
    shutil.copytree(SOLUTIONS, good)
    (tmp_path / "empty").mkdir()
    submissions = {"empty": tmp_path / "empty", "good": good,
                   "mistake": _mistaken_notebook(tmp_path / "mistake")}  # fmt: skip
    for name, folder in submissions.items():
        results = tree / "results"
        shutil.rmtree(results, ignore_errors=True)
        results.mkdir()
        (tree / "submission").mkdir(exist_ok=True)
        ran = _in_autograder(
            tree, ["/autograder/run_autograder"],
            ["--ro-bind", str(folder), "/autograder/submission"], {},
        )  # fmt: skip
        assert ran.returncode == 0, ran.stdout + ran.stderr
        written = json.loads((results / "results.json").read_text())
        jsonschema.validate(written, RESULTS)
        scores = {t["name"]: t["score"] for t in written["tests"]}
        if name == "empty":
            assert written["score"] == 0 and "empty" in written["output"]
            assert len(scores) == 8 and set(scores.values()) == {0.0}
            continue
        graded = subprocess.run(
            [sys.executable, "-m", "initlab", "grade", str(folder), "--json"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        expected = json.loads(graded.stdout)
        assert written["score"] == expected["score"], (name, written, expected)
        assert scores == {t["name"]: t["score"] for t in expected["tests"]}
        assert written["execution_time"] > 0
    he = next(t for t in written["tests"] if t["name"] == "initialize_parameters_he")
    assert he["score"] < he["max_score"] and he["status"] == "failed"
    assert "Xavier" in he["output"], he["output"]
