"""nbgrader itself, end to end, on the planar course notebook: generate, autograde a
solution, a blank and a two-mistake submission, and the feedback; the same points
as `initlab grade`."""

import html
import json
import re
import shutil
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from initlab import assignments
from initlab.grading import grade
from initlab.release import NBGRADER_OUTPUT, function_source, without_fences
from tests.conftest import run_nbgrader as nbgrader

pytestmark = pytest.mark.slow  # nbgrader runs: about 30 s
ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "graders" / "nbgrader"
SOLUTION = (ROOT / "graders" / "solutions" / "planar" / "planar.py").read_text()
ASSIGNMENT = assignments.get("planar")
NOTEBOOK = ASSIGNMENT.notebook.removesuffix(".ipynb")
RUBRIC = ASSIGNMENT.points()
MISTAKES = {  # two of the exercise's mistakes, each in its own function
    "backward_propagation": ("1 - np.power(A1, 2)", "1 - np.power(cache['Z1'], 2)"),
    "predict": ("predictions = A2 > 0.5", "predictions = A2 >= 0.5"),
}


def filled(release: dict, mistakes: dict) -> dict:
    notebook = json.loads(json.dumps(release))
    for cell in notebook["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            name = meta["grade_id"]
            source = without_fences(function_source(SOLUTION, name))
            if name in mistakes:
                old, new = mistakes[name]
                assert old in source
                source = source.replace(old, new)
            cell["source"] = source
    return notebook


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    shutil.copytree(COURSE, course, ignore=shutil.ignore_patterns(*NBGRADER_OUTPUT))
    nbgrader(course, "generate_assignment", "planar", "--force")
    release = json.loads((course / "release" / "planar" / f"{NOTEBOOK}.ipynb").read_text())
    tampered = filled(release, {})
    for cell in tampered["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "test_predict":
            cell["source"] = "10  # full marks, please"
    submissions = {
        "solution": filled(release, {}),
        "blank": release,
        "two_mistakes": filled(release, MISTAKES),
        "tampered": tampered,
    }
    for student, notebook in submissions.items():
        folder = course / "submitted" / student / "planar"
        folder.mkdir(parents=True)
        (folder / f"{NOTEBOOK}.ipynb").write_text(json.dumps(notebook))
    autograde = nbgrader(course, "autograde", "planar")
    nbgrader(course, "generate_feedback", "planar")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        totals = {s: gradebook.find_submission("planar", s).score for s in submissions}
        tests = {
            s: {n: gradebook.find_grade(f"test_{n}", NOTEBOOK, "planar", s).score for n in RUBRIC}
            for s in submissions
        }
    return course, totals, tests, autograde.stdout + autograde.stderr


def test_the_gradebook_scores_each_submission_and_each_mistake_costs_its_test(course):
    path, totals, tests, _ = course
    assert totals["solution"] == 100 and totals["blank"] == 0
    assert totals["two_mistakes"] == 100 - RUBRIC["backward_propagation"] - RUBRIC["predict"] / 2
    lost = {n for n, score in tests["two_mistakes"].items() if score < RUBRIC[n]}
    assert lost == set(MISTAKES)


def test_the_feedback_names_the_mistakes_and_initlab_grade_agrees(course):
    path, totals, tests, _ = course
    page = path / "feedback" / "two_mistakes" / "planar" / f"{NOTEBOOK}.html"
    text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
    assert "[tanh_derivative_wrong]" in text and "1 - Z1**2" in text
    assert "[predict_threshold]" in text
    # The decision boundaries of the logistic regression and of the student's own
    # network, drawn for the feedback page while nbgrader graded.
    solution = (path / "feedback" / "solution" / "planar" / f"{NOTEBOOK}.html").read_text()
    assert solution.count('class="output_svg') == 2 and "<math" in solution
    notebook = path / "submitted" / "two_mistakes" / "planar" / f"{NOTEBOOK}.ipynb"
    alone = grade(notebook, assignment="planar")
    assert {t.name: t.score for t in alone.tests} == tests["two_mistakes"]


def test_autograde_warns_only_about_a_test_cell_a_student_edited(course):
    """nbgrader's checksum warning for every cell with hidden tests (its checksum is
    taken before they are cleared) is gone; an edited test cell is still named, and
    gets its original back, so the edit gains nothing."""
    _, totals, _, output = course
    changed = [line for line in output.splitlines() if "has changed!" in line]
    assert len(changed) == 1 and "test_predict" in changed[0], changed
    assert "SAWarning" not in output
    assert totals["tampered"] == 100
