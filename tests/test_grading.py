"""`initlab grade` on whole submissions: every form, every way student code can fail."""

import json
from pathlib import Path

import pytest

from initlab.assignments.initialization import FUNCTIONS, RUBRICS
from initlab.cli import main
from initlab.grading import grade

RUBRIC = RUBRICS["full"]
MODULE_FILE = {f.name: f"{f.module}.py" for f in FUNCTIONS}

ROOT = Path(__file__).resolve().parents[1]
INITIALIZATION = (
    ROOT / "graders" / "solutions" / "initialization" / "initialization.py"
).read_text()
# A whole submission in one file or notebook: both solution modules.
SOLUTION = (
    INITIALIZATION
    + "\n"
    + (ROOT / "graders" / "solutions" / "initialization" / "propagation.py").read_text()
)


def run_json(capsys, *args):
    assert main(["grade", "--json", *map(str, args)]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)  # exactly one JSON object on stdout
    return report, {t["name"]: t for t in report["tests"]}


def write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def test_solutions_get_full_marks_with_hidden_checks(capsys):
    report, tests = run_json(capsys, ROOT / "graders" / "solutions" / "initialization", "--hidden")
    assert report["score"] == report["max_score"] == sum(RUBRIC.values())
    assert set(tests) == set(RUBRIC)
    for test in tests.values():
        assert (test["status"], test["diagnoses"], test["message"]) == ("passed", [], "correct")
        assert set(test) == {
            "name",
            "score",
            "max_score",
            "status",
            "diagnoses",
            "message",
            "source",
        }
        assert test["source"] == MODULE_FILE[test["name"]]


def test_released_stubs_get_zero_with_not_implemented_everywhere(capsys):
    report, tests = run_json(capsys, ROOT / "assignment" / "initialization")
    assert report["score"] == 0
    assert all(t["diagnoses"] == ["not_implemented"] for t in tests.values())


def test_a_notebook_with_magics_is_graded_like_the_module(tmp_path, capsys):
    cells = [
        {"cell_type": "markdown", "source": ["# Initialization"]},
        {
            "cell_type": "code",
            "source": ["%matplotlib inline\n", "!echo hello\n", "import numpy as np"],
        },
        {"cell_type": "code", "source": SOLUTION},
    ]
    notebook = write(tmp_path, "Initialization.ipynb", json.dumps({"cells": cells, "nbformat": 4}))
    report, _ = run_json(capsys, notebook)
    assert report["score"] == report["max_score"]
    report, _ = run_json(capsys, tmp_path)  # a folder holding one notebook
    assert report["score"] == report["max_score"]


def test_one_python_file_is_a_submission(tmp_path, capsys):
    report, _ = run_json(capsys, write(tmp_path, "mine.py", SOLUTION))
    assert report["score"] == report["max_score"]


def test_mistakes_are_diagnosed_through_the_whole_pipeline(tmp_path, capsys):
    """Xavier's scale in the He function and a transposed W in zeros, graded end to end."""
    source = INITIALIZATION.replace(
        "np.random.randn(layers_dims[l], layers_dims[l - 1]) * np.sqrt(\n            2.0",
        "np.random.randn(layers_dims[l], layers_dims[l - 1]) * np.sqrt(\n            1.0",
    ).replace(
        "np.zeros((layers_dims[l], layers_dims[l - 1]))",
        "np.zeros((layers_dims[l - 1], layers_dims[l]))",
    )
    assert source.count("1.0 / layers_dims") == 2
    report, tests = run_json(capsys, write(tmp_path / "s", "initialization.py", source))
    assert tests["initialize_parameters_he"]["diagnoses"] == ["scale_xavier"]
    assert "Xavier" in tests["initialize_parameters_he"]["message"]
    assert tests["initialize_parameters_zeros"]["diagnoses"] == ["transposed"]
    assert tests["initialize_parameters_random"]["status"] == "passed"
    assert report["score"] == pytest.approx(10 + 10 + 15 * 0.2)


def test_an_ndarray_subclass_is_named_through_the_pipeline(tmp_path, capsys):
    """The child reports the type it saw; a subclass that lies about itself is not an ndarray."""
    source = SOLUTION + (
        "\nclass Liar(np.ndarray):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "_he = initialize_parameters_he\n"
        "def initialize_parameters_he(layers_dims):\n"
        "    return {k: v.view(Liar) for k, v in _he(layers_dims).items()}\n"
        "_zeros = initialize_parameters_zeros\n"
        "def initialize_parameters_zeros(layers_dims):\n"
        "    return {k: np.asmatrix(v) for k, v in _zeros(layers_dims).items()}\n"
    )
    _, tests = run_json(capsys, write(tmp_path, "subclass.py", source))
    assert tests["initialize_parameters_he"]["diagnoses"] == ["not_ndarray"]
    assert "Liar" in tests["initialize_parameters_he"]["message"]
    assert tests["initialize_parameters_zeros"]["diagnoses"] == ["not_ndarray"]
    assert "numpy.matrix" in tests["initialize_parameters_zeros"]["message"]


def test_a_loss_returned_as_a_python_float_is_accepted(tmp_path, capsys):
    source = SOLUTION.replace("    return loss\n", "    return float(loss)\n")
    assert source != SOLUTION
    _, tests = run_json(capsys, write(tmp_path, "floaty.py", source))
    assert tests["compute_loss"]["status"] == "passed", tests["compute_loss"]["message"]


def test_missing_and_raising_functions(tmp_path, capsys):
    source = (
        "import numpy as np\n"
        "def initialize_parameters_zeros(layers_dims):\n"
        "    raise ValueError('shapes are hard')\n"
    )
    _, tests = run_json(capsys, write(tmp_path, "partial.py", source))
    zeros = tests["initialize_parameters_zeros"]
    assert (zeros["status"], zeros["diagnoses"]) == ("error", ["exception"])
    assert "ValueError: shapes are hard" in zeros["message"] and "line 3" in zeros["message"]
    assert tests["initialize_parameters_he"]["diagnoses"] == ["missing_function"]


def test_an_endless_function_times_out_and_the_others_are_still_graded(tmp_path, capsys):
    source = SOLUTION.replace(
        "def initialize_parameters_he(layers_dims):\n",
        "def initialize_parameters_he(layers_dims):\n    while True:\n        pass\n",
    )
    report, tests = run_json(capsys, write(tmp_path, "slow.py", source), "--timeout", "2")
    assert (
        tests["initialize_parameters_he"]["status"],
        tests["initialize_parameters_he"]["diagnoses"],
    ) == (
        "error",
        ["timeout"],
    )
    for name in (
        "initialize_parameters_zeros",
        "initialize_parameters_random",
        "initialize_parameters_xavier",
    ):
        assert tests[name]["status"] == "passed", tests[name]["message"]


def test_a_submission_that_hangs_everywhere_costs_one_timeout_per_function(tmp_path, capsys):
    import time

    names = list(RUBRIC)
    source = "".join(f"def {name}(*args):\n    while True:\n        pass\n" for name in names)
    start = time.perf_counter()
    report, tests = run_json(capsys, write(tmp_path, "hang.py", source), "--timeout", "0.5")
    elapsed = time.perf_counter() - start
    assert report["score"] == 0
    # backward is given a correct cache, so it runs (and hangs) on its own too
    assert all(t["diagnoses"] == ["timeout"] for t in tests.values())
    assert elapsed < 0.5 * len(names) + 10, f"{elapsed:.1f} s for {len(names)} functions"


def test_a_memory_bomb_fails_in_the_student_code_only(tmp_path, capsys):
    source = SOLUTION.replace(
        "def initialize_parameters_xavier(layers_dims):\n",
        "def initialize_parameters_xavier(layers_dims):\n    hog = bytearray(8 * 1024**3)\n",
    )
    _, tests = run_json(capsys, write(tmp_path, "hog.py", source), "--memory", "1024")
    xavier = tests["initialize_parameters_xavier"]
    assert (xavier["status"], xavier["diagnoses"]) == ("error", ["exception"])
    assert "MemoryError" in xavier["message"]
    assert tests["initialize_parameters_he"]["status"] == "passed"


def test_printing_a_fake_result_changes_nothing(tmp_path, capsys):
    fake = json.dumps({"submission": "x", "score": 100, "max_score": 100, "tests": []})
    source = f"print({fake!r})\nprint('passed ' * 100)\n" + SOLUTION.replace(
        "    parameters = {}\n    L = len(layers_dims)  # number of layers",
        "    raise NotImplementedError()\n    parameters = {}\n    L = len(layers_dims)  # number of layers",
    )
    report, tests = run_json(capsys, write(tmp_path, "liar.py", source))
    assert tests["initialize_parameters_zeros"]["diagnoses"] == ["not_implemented"]
    assert report["score"] == report["max_score"] - RUBRIC["initialize_parameters_zeros"]


@pytest.mark.parametrize("exit_call", ["import sys\nsys.exit(0)", "import os\nos._exit(0)"])
def test_exiting_at_top_level_is_script_code_and_is_not_run(tmp_path, capsys, exit_call):
    report, _ = run_json(capsys, write(tmp_path, "bye.py", exit_call + "\n" + SOLUTION))
    assert report["score"] == report["max_score"]


@pytest.mark.parametrize(
    "ending, words",
    [
        ("os._exit(0)", "ended the process (exit code 0)"),
        ("time.sleep(60)", "did not finish in 2 s"),
    ],
)
def test_a_definition_that_ends_the_process_while_loading_costs_only_itself(
    tmp_path, capsys, ending, words
):
    """A decorator runs while the file is loaded: when it kills the process or hangs, the
    file is loaded again without it, and only the function it decorates is lost."""
    decorator = f"import os\nimport time\n\n\ndef bye(function):\n    {ending}\n\n\n@bye\n"
    source = SOLUTION.replace(
        "def initialize_parameters_he(", decorator + "def initialize_parameters_he("
    )
    line = source.splitlines().index("@bye") + 1
    report, tests = run_json(capsys, write(tmp_path, "bye.py", source), "--timeout", "2")
    he = tests["initialize_parameters_he"]
    assert (he["status"], he["diagnoses"]) == ("error", ["load_error"])
    assert f"bye.py, line {line} {words} while it was loaded" in he["message"]
    assert report["score"] == report["max_score"] - RUBRIC["initialize_parameters_he"]


def test_exiting_inside_one_function_costs_only_that_function(tmp_path, capsys):
    source = SOLUTION.replace(
        "def initialize_parameters_random(layers_dims):\n",
        "def initialize_parameters_random(layers_dims):\n    import os\n    os._exit(3)\n",
    )
    _, tests = run_json(capsys, write(tmp_path, "exit.py", source))
    random = tests["initialize_parameters_random"]
    assert random["status"] == "error" and "exit code 3" in random["message"]
    assert tests["initialize_parameters_he"]["status"] == "passed"


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p / "nothing-here", "does not exist"),
        (lambda p: write(p, "notes.txt", "hi"), "not a .py file"),
        (lambda p: write(p, "broken.ipynb", "{not json"), "not a readable notebook"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "neither"),
    ],
)
def test_a_path_that_cannot_be_graded_exits_2_with_one_line(tmp_path, capsys, make, reason):
    assert main(["grade", str(make(tmp_path))]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert reason in captured.err and captured.err.count("\n") == 1


def test_hidden_checks_draw_new_sizes_each_run():
    import numpy as np

    from initlab.assignments.initialization import hidden_dims

    first = hidden_dims(np.random.default_rng())
    second = hidden_dims(np.random.default_rng())
    assert first != second
    assert len(first[0]) >= 6  # a deep network
    assert first[1][0] >= 150  # a wide one


def test_human_output_lists_points_and_diagnoses(tmp_path, capsys):
    assert main(["grade", str(ROOT / "assignment" / "initialization")]) == 0
    out = capsys.readouterr().out
    assert "0 / 100 points" in out and "[not_implemented]" in out
    assert grade(ROOT / "graders" / "solutions" / "initialization").score == 100


PROPAGATION = (ROOT / "graders" / "solutions" / "initialization" / "propagation.py").read_text()
INITIALIZERS = [name for name in RUBRIC if name.startswith("initialize")]


def test_a_syntax_error_in_one_module_costs_only_the_function_it_is_in(tmp_path, capsys):
    """initialization.py with a syntax error in He: He is lost, with the file and line;
    the other initializers and all of propagation.py are graded."""
    he = INITIALIZATION.index("def initialize_parameters_he")
    end = INITIALIZATION.index("\ndef ", he + 1)
    body = INITIALIZATION[he:end].replace("    return parameters", "    return parameters)")
    broken = INITIALIZATION[:he] + body + INITIALIZATION[end:]
    folder = tmp_path / "student"
    write(folder, "initialization.py", broken)
    write(folder, "propagation.py", PROPAGATION)
    report, tests = run_json(capsys, folder)
    he_test = tests["initialize_parameters_he"]
    assert he_test["diagnoses"] == ["load_error"]
    assert he_test["message"].startswith(
        "initialize_parameters_he could not be loaded: initialization.py does not parse: "
        "SyntaxError: unmatched ')' (line "
    )
    assert report["score"] == 100 - RUBRIC["initialize_parameters_he"]


def test_a_module_that_fails_to_load_costs_only_its_own_functions(tmp_path, capsys):
    """A class body that raises costs what it defines; an unsatisfiable import nothing."""
    folder = tmp_path / "student"
    write(folder, "initialization.py", "class Broken:\n    1 / 0\n\n\n" + INITIALIZATION)
    write(folder, "propagation.py", "import course_helpers_missing\n" + PROPAGATION)
    report, tests = run_json(capsys, folder)
    assert report["score"] == 100, [t["message"] for t in tests.values() if t["score"] == 0]
    write(folder, "propagation.py", "def relu(Z):\n    return (\n" + PROPAGATION)
    report, tests = run_json(capsys, folder)
    assert all(tests[name]["status"] == "passed" for name in INITIALIZERS)
    assert tests["forward_propagation"]["source"] == "propagation.py"


def test_helper_files_beside_a_notebook_are_importable_in_the_sandbox(tmp_path, capsys):
    helper = "import numpy as np\n\n\ndef zeros_like_course(shape):\n    return np.zeros(shape)\n"
    write(tmp_path, "course_helpers.py", helper)
    source = INITIALIZATION.replace(
        "np.zeros((layers_dims[l], layers_dims[l - 1]))",
        "zeros_like_course((layers_dims[l], layers_dims[l - 1]))",
    )
    assert source != INITIALIZATION
    cells = [
        {"cell_type": "code", "source": "from course_helpers import zeros_like_course"},
        {"cell_type": "code", "source": source},
    ]
    notebook = write(tmp_path, "Initialization.ipynb", json.dumps({"cells": cells, "nbformat": 4}))
    report, tests = run_json(capsys, notebook, "--rubric", "course")
    assert tests["initialize_parameters_zeros"]["status"] == "passed"
    assert report["score"] == 30
