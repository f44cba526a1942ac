"""One time policy in every runner: each function has the time limit for all its calls
together, so a slow but correct submission gets the same points everywhere."""

import json
import re
from pathlib import Path

import pytest

from initlab.assignments.initialization import RUBRICS
from initlab.checks.notebook import check
from initlab.cli import main
from initlab.grading import grade
from initlab.release import without_fences

pytestmark = pytest.mark.slow  # about 15 s: the same slow submission graded three ways

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "graders" / "solutions" / "initialization"
RUBRIC = RUBRICS["full"]
TIMEOUT = 1.5
PAUSE = 0.15  # per call: about 0.75 s for the five calls of an initializer, well over
# the whole time limit for all eight functions together (about 5 s), under it for each


def slow_solution() -> str:
    """The solutions, every function pausing PAUSE seconds per call (a decorator)."""
    source = "import time as _time\n\n\ndef _slow(function):\n"
    source += f"    def slowly(*args):\n        _time.sleep({PAUSE!r})\n"
    source += "        return function(*args)\n\n    return slowly\n\n\n"
    for module in ("initialization", "propagation"):
        text = without_fences((SOLUTIONS / f"{module}.py").read_text())
        source += re.sub(r"^def (\w+)\(", r"@_slow\ndef \1(", text, flags=re.MULTILINE) + "\n"
    return source


def test_a_slow_but_correct_submission_gets_the_same_points_from_every_runner(tmp_path, capsys):
    source = slow_solution()
    assert source.count("@_slow") == len(RUBRIC)
    folder = tmp_path / "class" / "slowpoke"
    folder.mkdir(parents=True)
    (folder / "initialization.py").write_text(source)  # every function, in one module

    alone = grade(folder, timeout=TIMEOUT)
    assert alone.score == 100, [t.message for t in alone.tests if t.score < t.max_score]

    namespace = {"__name__": "notebook"}
    exec(compile(source, "notebook", "exec"), namespace)
    in_kernel = sum(check(name, namespace, timeout=TIMEOUT) for name in RUBRIC)
    assert in_kernel == 100

    db = tmp_path / "grades.sqlite"
    args = ["grade", str(tmp_path / "class"), "--db", str(db), "--timeout", str(TIMEOUT)]
    assert main([*args, "--workers", "1", "--csv", str(tmp_path / "g.csv")]) == 0
    row = (tmp_path / "g.csv").read_text().splitlines()[1].split(",")
    assert (row[0], float(row[2])) == ("slowpoke", 100)


def test_a_function_over_its_own_limit_times_out_alone(tmp_path, capsys):
    source = slow_solution().replace(
        "def initialize_parameters_he(layers_dims):\n",
        "def initialize_parameters_he(layers_dims):\n    _time.sleep(0.5)\n",
    )
    path = tmp_path / "slow.py"
    path.write_text(source)
    assert main(["grade", "--json", "--timeout", str(TIMEOUT), str(path)]) == 0
    tests = {t["name"]: t for t in json.loads(capsys.readouterr().out)["tests"]}
    assert tests["initialize_parameters_he"]["diagnoses"] == ["timeout"]
    assert "did not finish in 1.5 s" in tests["initialize_parameters_he"]["message"]
    assert all(t["status"] == "passed" for n, t in tests.items() if n != "initialize_parameters_he")
