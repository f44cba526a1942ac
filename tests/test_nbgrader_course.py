"""The nbgrader course end to end, with nbgrader itself: generate the assignment,
autograde four submissions, read the gradebook, generate the feedback.

The submissions are the released notebook as students fill it in: the solution
functions typed into their cells (full marks); the release untouched (0); two
known mistakes (He scaled as Xavier, zeros transposed); and a messy but mostly
right notebook (prints, warnings and stderr output, a slow function, a stray
print, and an update_parameters that never returns).
"""

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from nbgrader.api import Gradebook

from initlab.assignments.initialization import RUBRICS
from initlab.checks.initializers import CREDIT_WRONG_SCALE
from initlab.checks.notebook import check
from initlab.grading import grade
from initlab.release import NBGRADER_OUTPUT, function_source, without_fences
from tests.conftest import run_nbgrader

pytestmark = pytest.mark.slow  # whole-pipeline runs: pytest -m 'not slow' skips them
ROOT = Path(__file__).resolve().parents[1]
RUBRIC = RUBRICS["full"]
COURSE = ROOT / "graders" / "nbgrader"
SOLUTIONS = ROOT / "graders" / "solutions" / "initialization"
ASSIGNMENT, NOTEBOOK = "initialization", "Initialization"
CHECK_TIMEOUT = 2  # seconds a student's function may run in a test cell
CELL_TIMEOUT = 10  # seconds nbgrader lets a cell run

# The two mistakes: replacements in the solution text, and what they cost.
TRANSPOSED_ZEROS = (
    "np.zeros((layers_dims[l], layers_dims[l - 1]))",
    "np.zeros((layers_dims[l - 1], layers_dims[l]))",
)
XAVIER_IN_HE = ("2.0 / layers_dims[l - 1]", "1.0 / layers_dims[l - 1]")


def typed_solution(name: str) -> str:
    """The solution function as a student would type it: without the fences."""
    module = "initialization" if name.startswith("initialize") else "propagation"
    source = function_source((SOLUTIONS / f"{module}.py").read_text(), name)
    return without_fences(source)


def replaced(text: str, old: str, new: str) -> str:
    assert old in text, f"{old!r} is not in the solution any more"
    return text.replace(old, new)


def filled(release: dict, edits: dict | None = None, extra: dict | None = None) -> dict:
    """The released notebook with every solution cell holding its (edited) solution,
    and extra lines appended to some cells."""
    notebook = json.loads(json.dumps(release))
    for cell in notebook["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            name = meta["grade_id"]
            source = typed_solution(name)
            for old, new in (edits or {}).get(name, []):
                source = replaced(source, old, new)
            cell["source"] = source + (extra or {}).get(name, "")
    return notebook


def messy(release: dict) -> dict:
    """Right answers written carelessly: output and warnings everywhere, a slow loss,
    and an update_parameters that loops forever."""
    noisy = (
        "    import sys, warnings\n"
        "    print('computing He weights for', layers_dims)\n"
        "    warnings.warn('a warning from the student code')\n"
        "    sys.stderr.write('debugging output on stderr\\n')\n"
    )
    slow = "    import time\n    time.sleep(0.05)\n"
    hang = "    while True:\n        pass\n"
    edits = {
        "initialize_parameters_he": [
            ("    np.random.seed(3)\n", noisy + "    np.random.seed(3)\n")
        ],
        "compute_loss": [("    m = Y.shape[1]\n", slow + "    m = Y.shape[1]\n")],
        "update_parameters": [
            ("    L = len(parameters) // 2\n", hang + "    L = len(parameters) // 2\n")
        ],
    }
    stray = {
        "initialize_parameters_zeros": "\nprint('a stray print')\nimport warnings\nwarnings.warn('stray')\n"
    }
    return filled(release, edits, stray)


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    return run_nbgrader(course, *args, check_timeout=CHECK_TIMEOUT)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of the course, generated, with four submissions autograded and their feedback."""
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    shutil.copytree(COURSE, course, ignore=shutil.ignore_patterns(*NBGRADER_OUTPUT))
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    release_path = course / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    release = json.loads(release_path.read_text())
    submissions = {
        "solution": filled(release),
        "untouched": release,
        "two_mistakes": filled(
            release,
            {
                "initialize_parameters_zeros": [TRANSPOSED_ZEROS],
                "initialize_parameters_he": [XAVIER_IN_HE],
            },
        ),
        "messy": messy(release),
    }
    for student, notebook in submissions.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / f"{NOTEBOOK}.ipynb").write_text(json.dumps(notebook))
    nbgrader(course, "autograde", ASSIGNMENT, f"--ExecutePreprocessor.timeout={CELL_TIMEOUT}")
    nbgrader(course, "generate_feedback", ASSIGNMENT)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        totals = {s: gradebook.find_submission(ASSIGNMENT, s).score for s in submissions}
        tests = {
            s: {
                name: gradebook.find_grade(f"test_{name}", NOTEBOOK, ASSIGNMENT, s).score
                for name in RUBRIC
            }
            for s in submissions
        }
    return SimpleNamespace(path=course, totals=totals, tests=tests, release=release)


def feedback(course, student: str) -> str:
    """The student's feedback page as text (tags dropped, entities decoded)."""
    page = course.path / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html"
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def test_the_gradebook_scores_each_submission(course):
    expected_partial = (
        100
        - RUBRIC["initialize_parameters_zeros"]
        - RUBRIC["initialize_parameters_he"] * (1 - CREDIT_WRONG_SCALE)
    )
    assert course.totals == {
        "solution": 100,
        "untouched": 0,
        "two_mistakes": pytest.approx(expected_partial),
        "messy": 100 - RUBRIC["update_parameters"],
    }


def test_each_mistake_costs_its_own_test_only(course):
    tests = course.tests["two_mistakes"]
    assert tests["initialize_parameters_zeros"] == 0
    assert tests["initialize_parameters_he"] == pytest.approx(
        RUBRIC["initialize_parameters_he"] * CREDIT_WRONG_SCALE
    )
    others = {
        k: v
        for k, v in tests.items()
        if k not in ("initialize_parameters_zeros", "initialize_parameters_he")
    }
    assert others == {k: RUBRIC[k] for k in others}


def test_output_warnings_and_slowness_cost_nothing_a_hang_costs_its_test(course):
    tests = course.tests["messy"]
    assert tests["update_parameters"] == 0
    assert {k: v for k, v in tests.items() if k != "update_parameters"} == {
        k: v for k, v in RUBRIC.items() if k != "update_parameters"
    }
    text = feedback(course, "messy")
    assert f"update_parameters did not finish in {CHECK_TIMEOUT:g} s" in text
    assert "debugging output on stderr" in text  # shown to the student, on stdout


def test_the_feedback_says_what_is_wrong_in_plain_words(course, capsys):
    """Each diagnosis of the check library reaches the student's feedback page."""
    namespace = {}
    exec("import numpy as np", namespace)
    for name, edit in [
        ("initialize_parameters_zeros", TRANSPOSED_ZEROS),
        ("initialize_parameters_he", XAVIER_IN_HE),
    ]:
        exec(replaced(typed_solution(name), *edit), namespace)
    text = feedback(course, "two_mistakes")
    for name, code in [
        ("initialize_parameters_zeros", "transposed"),
        ("initialize_parameters_he", "scale_xavier"),
    ]:
        capsys.readouterr()
        check(name, namespace)
        printed = capsys.readouterr().out
        lines = [
            line.strip() for line in printed.splitlines() if line.strip().startswith(f"[{code}]")
        ]
        assert lines, f"the check of {name} gives no [{code}] diagnosis:\n{printed}"
        for line in lines:
            assert line in text, f"the feedback lacks {line!r}"
    assert "He uses sqrt(2/n_{l-1})" in text


def test_initlab_grade_agrees_with_nbgrader(course):
    """The module path's grader, on the same notebooks, gives the same points."""
    for student in ("solution", "untouched", "two_mistakes"):
        path = course.path / "submitted" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        report = grade(path)
        assert {t.name: t.score for t in report.tests} == pytest.approx(course.tests[student]), (
            student
        )


def test_hidden_tests_are_released_hidden_and_graded(course):
    """The student's test cells lack the hidden block; the autograded ones run it."""
    released = [
        c for c in course.release["cells"] if c["metadata"].get("nbgrader", {}).get("grade")
    ]
    assert len(released) == len(RUBRIC)
    for cell in released:
        source = "".join(cell["source"])
        assert "hidden_tests = True" not in source and "HIDDEN" not in source
        assert (
            cell["metadata"]["nbgrader"]["points"]
            == RUBRIC[cell["metadata"]["nbgrader"]["grade_id"][5:]]
        )
    autograded = json.loads(
        (course.path / "autograded" / "solution" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_text()
    )
    graded = [c for c in autograded["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
    assert all("hidden_tests = True" in "".join(c["source"]) for c in graded)


def page(course, student: str) -> str:
    return (course.path / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()


def test_the_feedback_page_shows_the_students_own_runs_and_reads_offline(course):
    """Each training run of the student's notebook is drawn on their feedback page;
    the maths is MathML (no MathJax from the network), the index names each
    function, and long output lines wrap."""
    solution, mistakes = page(course, "solution"), page(course, "two_mistakes")
    # One figure per training run that finished: four for the solution; the
    # transposed zeros cannot train, so that run has none.
    assert solution.count('class="output_svg') == 4
    assert mistakes.count('class="output_svg') == 3
    figures = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', mistakes)
    import base64

    titles = [re.findall(r"<text[^>]*>([^<]*): cost</text>", base64.b64decode(f).decode()) for f in figures]
    assert [t[0] for t in titles] == ["large random", "He", "Xavier"]
    for text in (solution, mistakes):
        assert "<math" in text and "mathjax" not in text.lower()
        assert not re.findall(r'<(?:script|link)[^>]+(?:src|href)="https?://', text)
        assert "white-space: pre-wrap" in text
        for name in RUBRIC:
            assert f"Checks of <code>{name}</code>" in text
    assert "Test cell" not in solution


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium (Debian's chromium) is not installed")
def test_the_feedback_page_renders_in_a_browser_without_network(course, tmp_path):
    """Headless Chromium, every host unresolvable: the page shows its figures."""
    from PIL import Image

    path = course.path / "feedback" / "solution" / ASSIGNMENT / f"{NOTEBOOK}.html"
    shot = tmp_path / "feedback.png"
    done = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
         "--host-resolver-rules=MAP * ~NOTFOUND", f"--screenshot={shot}",
         "--window-size=1100,12000", path.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert shot.exists(), done.stderr[-2000:]
    import numpy as np

    image = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    # The He run's figure: the green of He's cost curve is drawn on the page.
    green = np.array([0x1E, 0x84, 0x49])
    assert (np.abs(image - green).max(axis=2) < 12).sum() > 50
