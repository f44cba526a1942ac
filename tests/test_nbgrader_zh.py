"""The Chinese edition of the nbgrader course, end to end with nbgrader: generate
initialization_zh and planar_zh, autograde submissions with known mistakes, and the
feedback pages speak Chinese: the notebook's text, and the checks' verdicts and
diagnoses, the same points as the English course."""

import html
import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from nbgrader.api import Gradebook

from initlab import assignments, translation
from initlab.checks.initializers import CREDIT_WRONG_SCALE
from initlab.checks.notebook import check
from initlab.grading import grade
from initlab.release import NBGRADER_OUTPUT, function_source, without_fences
from tests.conftest import run_nbgrader as nbgrader

pytestmark = pytest.mark.slow  # nbgrader runs: about 40 s
ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "graders" / "nbgrader"
CJK = re.compile(r"[\u4e00-\u9fff]")
# Each edition's mistakes: function -> (solution text, mistaken text), and the code
# of the diagnosis each gets.
MISTAKES = {
    "initialization": {
        "initialize_parameters_zeros": (
            "np.zeros((layers_dims[l], layers_dims[l - 1]))",
            "np.zeros((layers_dims[l - 1], layers_dims[l]))",
            "transposed",
        ),
        "initialize_parameters_he": (
            "2.0 / layers_dims[l - 1]",
            "1.0 / layers_dims[l - 1]",
            "scale_xavier",
        ),
    },
    "planar": {
        "backward_propagation": (
            "1 - np.power(A1, 2)",
            "1 - np.power(cache['Z1'], 2)",
            "tanh_derivative_wrong",
        ),
    },
}


def typed(assignment, name: str, mistaken: bool) -> str:
    path = assignment.solutions_dir(ROOT) / f"{assignment.module_of(name)}.py"
    source = without_fences(function_source(path.read_text(), name))
    if mistaken and name in MISTAKES[assignment.name]:
        old, new, _ = MISTAKES[assignment.name][name]
        assert old in source, f"{old!r} is not in the solution any more"
        source = source.replace(old, new)
    return source


def filled(assignment, release: dict, mistaken: bool) -> dict:
    notebook = json.loads(json.dumps(release))
    for cell in notebook["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            cell["source"] = typed(assignment, meta["grade_id"], mistaken)
    return notebook


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of the course: both Chinese assignments generated, a correct and a
    mistaken submission of each autograded, and their feedback."""
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    shutil.copytree(COURSE, course, ignore=shutil.ignore_patterns(*NBGRADER_OUTPUT))
    scores = {}
    for name in MISTAKES:
        assignment = assignments.get(name)
        edition = translation.course_name(assignment, "zh")
        nbgrader(course, "generate_assignment", edition, "--force")
        release = json.loads((course / "release" / edition / assignment.notebook).read_text())
        for student, mistaken in (("solution", False), ("mistakes", True)):
            folder = course / "submitted" / student / edition
            folder.mkdir(parents=True)
            notebook = filled(assignment, release, mistaken)
            (folder / assignment.notebook).write_text(json.dumps(notebook, ensure_ascii=False))
        nbgrader(course, "autograde", edition)
        nbgrader(course, "generate_feedback", edition)
        stem = assignment.notebook.removesuffix(".ipynb")
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
            for student in ("solution", "mistakes"):
                scores[name, student] = {
                    f: gradebook.find_grade(f"test_{f}", stem, edition, student).score
                    for f in assignment.points()
                }
    return SimpleNamespace(path=course, scores=scores)


def feedback(course, name: str, student: str) -> str:
    assignment = assignments.get(name)
    edition = translation.course_name(assignment, "zh")
    page = course.path / "feedback" / student / edition / assignment.notebook.replace(
        ".ipynb", ".html"
    )
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))


@pytest.mark.parametrize("name", list(MISTAKES))
def test_the_chinese_course_scores_as_the_english_one(course, name):
    assignment = assignments.get(name)
    rubric = assignment.points()
    assert course.scores[name, "solution"] == rubric
    mistakes = course.scores[name, "mistakes"]
    lost = {f for f, score in mistakes.items() if score < rubric[f]}
    assert lost == set(MISTAKES[name])
    if name == "initialization":
        assert mistakes["initialize_parameters_zeros"] == 0
        assert mistakes["initialize_parameters_he"] == pytest.approx(
            rubric["initialize_parameters_he"] * CREDIT_WRONG_SCALE
        )
    edition = translation.course_name(assignment, "zh")
    path = course.path / "submitted" / "mistakes" / edition / assignment.notebook
    alone = grade(path, assignment=name)
    assert {t.name: t.score for t in alone.tests} == pytest.approx(mistakes)


@pytest.mark.parametrize("name", list(MISTAKES))
def test_the_feedback_speaks_chinese(course, name, capsys):
    """The notebook's text, and every line the Chinese check prints for each mistake
    (the verdict with its points, each diagnosis), are on the feedback page."""
    assignment = assignments.get(name)
    text = feedback(course, name, "mistakes")
    assert "1. 数据" in text and "1. The data" not in text  # the first section's heading
    # The page's own words: its index, each test cell's heading.
    for function in MISTAKES[name]:
        assert f"{function} 的检查" in text and f"Checks of {function}" not in text
    assert "评分单元格" in text and "Grade cell" not in text and "得分" in text
    namespace = {}
    exec("import numpy as np", namespace)
    if name == "planar":
        exec(assignment.stand_ins["planar_utils"], namespace)
    for function in assignment.points():
        exec(typed(assignment, function, mistaken=True), namespace)
    for function, (_, _, code) in MISTAKES[name].items():
        capsys.readouterr()
        check(function, namespace, assignment=name, lang="zh")
        chinese = capsys.readouterr().out
        check(function, namespace, assignment=name, lang="en")
        english = capsys.readouterr().out
        lines = [line.strip() for line in chinese.splitlines() if line.strip()]
        assert any(line.startswith(f"[{code}]") for line in lines), chinese
        for line in lines:
            assert line in text, f"the feedback lacks {line!r}"
        diagnosis = next(line for line in lines if line.startswith(f"[{code}]"))
        if diagnosis in english:
            pytest.skip(f"the zh message catalog does not translate [{code}] yet")
        assert CJK.search(diagnosis), diagnosis
        assert CJK.search(lines[0]), f"the verdict line is not in Chinese: {lines[0]!r}"
