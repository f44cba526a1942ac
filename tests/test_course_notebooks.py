"""Students' work as they hand it in: the course's own notebooks (2017 and 2021+
editions), course-style scripts with their helper files, and folders holding both
the stubs and the notebook. Fixtures in tests/fixtures/course/ are written in
that shape; the broken variants are derived from them here."""

import json
import shutil
from pathlib import Path

import pytest

from initlab.cli import main
from initlab.grading import grade

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "tests" / "fixtures" / "course"
EDITIONS = ["edition2017", "edition2021"]
HE_CELL = {"edition2017": 12, "edition2021": 16}  # code-cell numbers of the He function
COURSE_FUNCTIONS = [
    "initialize_parameters_zeros",
    "initialize_parameters_random",
    "initialize_parameters_he",
]


def handed_in(tmp_path, edition, helpers=True):
    """A copy of the edition's notebook, with or without its helper files beside it."""
    folder = tmp_path / edition
    folder.mkdir()
    for file in (COURSE / edition).iterdir():
        if file.suffix == ".ipynb" or helpers:
            shutil.copy(file, folder / file.name)
    return folder / "Initialization.ipynb"


def code_cells(notebook):
    return [c for c in notebook["cells"] if c["cell_type"] == "code"]


def edit_cell(path, number, edit):
    """Replace the source of code cell number (from 1) by edit(source)."""
    notebook = json.loads(path.read_text())
    cell = code_cells(notebook)[number - 1]
    cell["source"] = edit("".join(cell["source"]))
    path.write_text(json.dumps(notebook))


def he_calls_sigmoid(notebook):
    """The 2017 notebook's He function, calling init_utils' sigmoid before it returns."""
    edit_cell(
        notebook,
        HE_CELL["edition2017"],
        lambda s: s.replace("    return parameters", "    sigmoid(0)\n    return parameters"),
    )


def graded(path, *options):
    report = grade(path, **dict(options))
    return report, {t.name: t for t in report.tests}


@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize("hidden", [False, True])
def test_a_course_notebook_as_handed_in_gets_30_of_30(tmp_path, edition, hidden):
    report, tests = graded(handed_in(tmp_path, edition), ("rubric", "course"), ("hidden", hidden))
    assert (report.score, report.max_score) == (30, 30), [t.message for t in report.tests]
    assert list(tests) == COURSE_FUNCTIONS
    assert {t.source for t in report.tests} == {"Initialization.ipynb"}


@pytest.mark.parametrize("edition", EDITIONS)
def test_without_its_helper_files_the_notebook_still_gets_30(tmp_path, edition):
    """init_utils, public_tests, sklearn, h5py: imports that cannot be satisfied cost nothing."""
    report, _ = graded(handed_in(tmp_path, edition, helpers=False), ("rubric", "course"))
    assert report.score == 30, [t.message for t in report.tests]


@pytest.mark.parametrize("edition", EDITIONS)
def test_a_syntax_error_in_the_he_cell_costs_he_only_and_names_the_cell(tmp_path, edition):
    notebook = handed_in(tmp_path, edition)
    edit_cell(
        notebook, HE_CELL[edition], lambda s: s.replace("return parameters", "return parameters)")
    )
    report, tests = graded(notebook, ("rubric", "course"))
    assert report.score == 20
    he = tests["initialize_parameters_he"]
    assert (he.status, [d.code for d in he.diagnoses]) == ("error", ["load_error"])
    assert f"code cell {HE_CELL[edition]} " in he.message and "does not parse" in he.message
    assert "line " in he.message and "return parameters)" in he.message
    assert "raised" not in he.message


def test_a_half_finished_cell_costs_only_the_function_it_defines(tmp_path):
    """The 2021 fixture's cell 21 is an unfinished Xavier with an empty for body."""
    report, tests = graded(handed_in(tmp_path, "edition2021"), ("rubric", "full"))
    xavier = tests["initialize_parameters_xavier"]
    assert [d.code for d in xavier.diagnoses] == ["load_error"]
    assert "code cell 21 does not parse: IndentationError" in xavier.message
    assert all(tests[name].status == "passed" for name in COURSE_FUNCTIONS)
    # The course's propagation functions come from init_utils: not the student's work.
    forward = tests["forward_propagation"]
    assert [d.code for d in forward.diagnoses] == ["missing_function"]
    assert "imported from init_utils" in forward.message
    assert report.score == 35


def test_a_graded_function_that_uses_an_unavailable_import_is_told_which(tmp_path):
    notebook = handed_in(tmp_path, "edition2017", helpers=False)
    he_calls_sigmoid(notebook)
    _, tests = graded(notebook, ("rubric", "course"))
    he = tests["initialize_parameters_he"]
    assert [d.code for d in he.diagnoses] == ["unavailable"]
    assert he.message.startswith(
        "initialize_parameters_he used init_utils.sigmoid: "
        "init_utils is not available while grading (checked on layers_dims = ["
    )
    assert tests["initialize_parameters_zeros"].status == "passed"


def test_an_error_inside_a_helper_file_names_that_file(tmp_path):
    notebook = handed_in(tmp_path, "edition2017")
    utils = notebook.parent / "init_utils.py"
    utils.write_text(
        utils.read_text().replace(
            "    s = 1 / (1 + np.exp(-x))", "    s = 1 / (1 + np.exp(-x)) + undefined_name"
        )
    )
    he_calls_sigmoid(notebook)
    _, tests = graded(notebook, ("rubric", "course"))
    he = tests["initialize_parameters_he"]
    assert [d.code for d in he.diagnoses] == ["exception"]
    assert "NameError: name 'undefined_name' is not defined (init_utils.py, line" in he.message


def test_an_error_while_loading_is_a_loading_error_of_its_cell(tmp_path):
    """A decorator runs while the notebook loads; its error costs the function it
    decorates, reported as the cell's error, never as the function having raised."""
    notebook = handed_in(tmp_path, "edition2021")
    edit_cell(
        notebook,
        HE_CELL["edition2021"],
        lambda s: "def checked(f):\n    raise ValueError('not yet')\n\n@checked\n" + s,
    )
    report, tests = graded(notebook, ("rubric", "course"))
    he = tests["initialize_parameters_he"]
    assert he.message.startswith("initialize_parameters_he could not be loaded: ")
    assert "code cell 16 (In [18]) raised ValueError: not yet" in he.message
    assert "while it was loaded" in he.message
    assert report.score == 20


def test_ipython_syntax_is_ignored(tmp_path):
    notebook = handed_in(tmp_path, "edition2017")
    edit_cell(
        notebook,
        HE_CELL["edition2017"],
        lambda s: (
            "%%time\n"
            + s.replace("    np.random.seed(3)", "    %time x = 1\n    np.random.seed(3)")
        ),
    )
    edit_cell(notebook, 4, lambda s: "initialize_parameters_zeros?\n!ls -la\nfiles = !ls\n" + s)
    report, _ = graded(notebook, ("rubric", "course"))
    assert report.score == 30, [t.message for t in report.tests]


def test_a_course_style_script_with_its_helper_gets_30(tmp_path):
    """Top-level load_dataset(), training, plt.show(): script code is not run."""
    report, tests = graded(COURSE / "script" / "initialization_course.py", ("rubric", "course"))
    assert report.score == 30, [t.message for t in report.tests]
    assert tests["initialize_parameters_he"].source == "initialization_course.py"
    alone = tmp_path / "initialization_course.py"
    shutil.copy(COURSE / "script" / "initialization_course.py", alone)
    assert grade(alone, rubric="course").score == 30


def test_the_course_rubric_has_three_functions_of_ten_points(capsys):
    notebook = COURSE / "edition2017" / "Initialization.ipynb"
    assert main(["grade", "--json", "--rubric", "course", str(notebook)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["rubric"], report["score"], report["max_score"]) == ("course", 30, 30)
    assert [(t["name"], t["max_score"]) for t in report["tests"]] == [
        (name, 10) for name in COURSE_FUNCTIONS
    ]


def test_an_unknown_rubric_or_assignment_is_a_one_line_error(capsys):
    notebook = str(COURSE / "edition2017" / "Initialization.ipynb")
    assert main(["grade", "--rubric", "quick", notebook]) == 2
    assert capsys.readouterr().err.strip() == (
        "initlab grade: the assignment 'initialization' has no rubric 'quick'; "
        "its rubrics are full, course"
    )
    with pytest.raises(SystemExit) as stop:
        main(["grade", "--assignment", "nope", notebook])
    assert stop.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


@pytest.mark.slow
def test_course_notebooks_in_bulk_get_30_and_the_rubric_is_in_the_ledger_key(tmp_path, capsys):
    submissions = tmp_path / "submitted"
    for edition in EDITIONS:
        shutil.copytree(COURSE / edition, submissions / edition)
    broken = submissions / "broken_he"
    shutil.copytree(COURSE / "edition2021", broken)
    edit_cell(
        broken / "Initialization.ipynb", HE_CELL["edition2021"], lambda s: s.replace("):", ")", 1)
    )
    db = tmp_path / "grades.sqlite"
    csv = tmp_path / "grades.csv"
    args = ["grade", str(submissions), "--db", str(db), "--rubric", "course", "--workers", "2"]
    assert main([*args, "--csv", str(csv)]) == 0
    rows = {line.split(",")[0]: line.split(",") for line in csv.read_text().splitlines()[1:]}
    assert {k: float(v[2]) for k, v in rows.items()} == {
        "edition2017": 30,
        "edition2021": 30,
        "broken_he": 20,
    }
    header = csv.read_text().splitlines()[0].split(",")
    assert header[4:7] == COURSE_FUNCTIONS and "forward_propagation" not in header
    capsys.readouterr()
    assert main(args) == 0  # the same rubric again: nothing to grade
    assert "0 graded now, 3 already in the ledger" in capsys.readouterr().out
    assert main([*args[:-2], "--rubric", "full", "--workers", "2"]) == 0  # another key
    assert "3 graded now" in capsys.readouterr().out


def test_in_a_folder_with_both_forms_each_function_comes_from_where_it_is_written(tmp_path):
    """The release gives the stubs and the notebook: zeros written in initialization.py,
    random and He in the notebook; a stub never hides the notebook's function."""
    folder = tmp_path / "student"
    shutil.copytree(ROOT / "assignment" / "initialization", folder)
    shutil.copy(COURSE / "edition2021" / "Initialization.ipynb", folder / "Initialization.ipynb")
    notebook = json.loads((folder / "Initialization.ipynb").read_text())
    zeros = "".join(code_cells(notebook)[5]["source"])
    edit_cell(
        folder / "Initialization.ipynb",
        6,
        lambda s: s.replace(
            "np.zeros((layers_dims[l], layers_dims[l-1]))",
            "np.zeros((layers_dims[l-1], layers_dims[l]))",
        ),
    )
    module = (folder / "initialization.py").read_text()
    start = module.index("def initialize_parameters_zeros")
    end = module.index("\ndef ", start + 1)
    (folder / "initialization.py").write_text(
        module[:start] + zeros.split("\n\n", 1)[1] + "\n\n" + module[end:]
    )
    report, tests = graded(folder, ("rubric", "course"))
    assert {n: t.source for n, t in tests.items()} == {
        "initialize_parameters_zeros": "initialization.py",
        "initialize_parameters_random": "Initialization.ipynb",
        "initialize_parameters_he": "Initialization.ipynb",
    }
    # initialization.py's correct zeros wins over the notebook's transposed one.
    assert report.score == 30, [t.message for t in report.tests]


def test_the_self_check_grades_a_notebook_left_beside_the_stubs(tmp_path):
    import subprocess
    import sys

    folder = tmp_path / "student"
    shutil.copytree(ROOT / "assignment" / "initialization", folder)
    shutil.copy(COURSE / "edition2017" / "Initialization.ipynb", folder / "Initialization.ipynb")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--rubric", "course"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout
    assert "3 passed" in done.stdout and "30 / 30" in done.stdout
    assert "(Initialization.ipynb)" in done.stdout


def test_a_function_reading_a_global_set_by_training_code_is_told_why(tmp_path):
    """Top-level code is not run while grading: a name it sets is named, with the cell."""
    notebook = handed_in(tmp_path, "edition2017")
    edit_cell(notebook, 4, lambda s: "n_layers = len([3, 2, 1])\n" + s)
    edit_cell(
        notebook,
        HE_CELL["edition2017"],
        lambda s: s.replace("L = len(layers_dims) - 1", "L = n_layers - 1"),
    )
    _, tests = graded(notebook, ("rubric", "course"))
    he = tests["initialize_parameters_he"]
    assert [d.code for d in he.diagnoses] == ["exception"]
    assert (
        "n_layers is set by top-level code, Initialization.ipynb, code cell 4 (In [4])"
        in he.message
    )
    assert "compute it inside the function" in he.message
