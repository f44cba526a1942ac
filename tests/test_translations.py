"""The Chinese edition of the notebooks: generated from the English ones and the
translations in graders/nbgrader/translations/zh/, written for students in the
glossary's words, and nothing of it drifts from what the two generate."""

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import compute_checksum

from initlab import assignments, translation
from initlab.cli import main
from initlab.release import (
    NBGRADER_OUTPUT,
    notebook_text,
    read_notebook,
    solution_lines,
    strip_solutions,
)
from initlab.translation import (
    LANGUAGE_IMPORT,
    TranslationError,
    glossary_problems,
    kept_problems,
    markdown_cells,
    problems,
    read_catalog,
    read_glossary,
    translate,
    update_catalog,
    write_catalog,
)

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "graders" / "nbgrader"
EDITION = "zh"
GLOSSARY = translation.translations_dir(COURSE, EDITION) / "glossary.csv"
NAMES = assignments.names()
CJK = re.compile(r"[\u4e00-\u9fff]")
# The words learners know from the course's Chinese editions: the glossary has each.
COURSE_TERMS = [
    "零初始化", "随机初始化", "He 初始化", "Xavier 初始化", "打破对称性", "权重", "偏置",
    "代价函数", "损失函数", "前向传播", "反向传播", "梯度下降", "梯度消失", "梯度爆炸",
    "学习率", "隐藏层", "激活函数", "决策边界", "训练集", "测试集", "准确率", "迭代", "超参数",
]


def english(name: str) -> dict:
    return read_notebook(assignments.get(name).course_notebook(COURSE))


def catalog(name: str):
    return read_catalog(translation.catalog_path(COURSE, assignments.get(name), EDITION))


def cells(name: str) -> list[tuple[int, str, str]]:
    """(index, English, Chinese) of every markdown cell."""
    found = catalog(name)
    return [(i, text, found.get(text).string) for i, text in markdown_cells(english(name))]


def plain(notebook) -> dict:
    return json.loads(json.dumps(notebook))


REGENERATE = "run `initlab release --assignment {name} --edition zh --force`"


@pytest.mark.parametrize("name", NAMES)
def test_every_markdown_cell_has_a_current_translation(name):
    """A new or changed English cell fails here until it is translated: `initlab release
    --assignment NAME --edition zh --update-translations` adds it to the catalog (a
    changed one with its old translation marked fuzzy)."""
    assignment = assignments.get(name)
    found = problems(english(name), catalog(name), EDITION, assignment.notebook)
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("name", NAMES)
def test_the_catalog_translates_only_what_the_notebook_says(name):
    """No entry for text the English notebook no longer has, none kept obsolete."""
    texts = {text for _, text in markdown_cells(english(name))}
    entries = catalog(name)
    assert {m.id for m in entries if m.id} == texts
    assert not entries.obsolete


@pytest.mark.parametrize("name", NAMES)
def test_the_chinese_course_notebook_is_the_generated_one(name):
    assignment = assignments.get(name)
    expected = translate(english(name), catalog(name), EDITION, assignment.notebook)
    path = translation.course_notebook(COURSE, assignment, EDITION)
    assert path.read_text(encoding="utf-8") == notebook_text(expected), (
        f"{path.relative_to(ROOT)} has drifted from the English notebook and the "
        f"translations: {REGENERATE.format(name=name)}"
    )


@pytest.mark.parametrize("name", NAMES)
def test_the_chinese_student_notebook_is_the_english_release_translated(name):
    """What nbgrader releases from the Chinese course notebook is the English student
    notebook with the same translation (and the checksum of the one code cell that
    changed), so the committed one drifts from neither."""
    assignment = assignments.get(name)
    released = assignment.student_dir(ROOT) / assignment.notebook
    translated = translate(read_notebook(released), catalog(name), EDITION, assignment.notebook)
    for cell in translated["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if "checksum" in meta:
            meta["checksum"] = compute_checksum(
                nbformat.from_dict({**cell, "source": "".join(cell["source"])})
            )
    chinese = translation.student_dir(ROOT, assignment, EDITION) / assignment.notebook
    committed = read_notebook(chinese)
    # The cell ids are the Chinese course notebook's (the English one may have none, and
    # nbgrader then draws random ones for its release).
    course = read_notebook(translation.course_notebook(COURSE, assignment, EDITION))
    assert [c["id"] for c in committed["cells"]] == [c["id"] for c in course["cells"]]
    for cell, ours in zip(translated["cells"], committed["cells"], strict=True):
        cell["id"] = ours["id"]
    assert committed == translated, (
        f"{chinese.relative_to(ROOT)} has drifted: {REGENERATE.format(name=name)}"
    )


@pytest.mark.parametrize("name", NAMES)
def test_code_cells_are_shared_but_for_the_language_line(name):
    assignment = assignments.get(name)
    chinese = read_notebook(translation.course_notebook(COURSE, assignment, EDITION))
    pairs = list(zip(english(name)["cells"], chinese["cells"], strict=True))
    changed = []
    for ours, theirs in pairs:
        assert ours["cell_type"] == theirs["cell_type"]
        assert ours["metadata"] == theirs["metadata"]
        if ours["cell_type"] == "code" and ours["source"] != theirs["source"]:
            added = [
                line
                for line in "".join(theirs["source"]).split("\n")
                if line not in "".join(ours["source"]).split("\n")
            ]
            changed.append(added)
    assert changed == [[LANGUAGE_IMPORT, 'set_language("zh")  # 测试单元格的检查结果用中文显示']]


@pytest.mark.parametrize("name", NAMES)
def test_every_translation_is_chinese_and_keeps_maths_code_and_numbers(name):
    for index, ours, theirs in cells(name):
        assert len(CJK.findall(theirs)) >= 4, f"cell {index} is not translated: {theirs!r}"
        assert kept_problems(ours, theirs) == [], f"cell {index}"
        # A heading stays a heading of the same level.
        assert re.findall(r"(?m)^#+ ", ours) == re.findall(r"(?m)^#+ ", theirs), f"cell {index}"


@pytest.mark.parametrize("name", NAMES)
def test_translations_use_the_glossarys_words(name):
    terms = read_glossary(GLOSSARY)
    found = [
        f"cell {index}: {problem}"
        for index, ours, theirs in cells(name)
        for problem in glossary_problems(ours, theirs, terms)
    ]
    assert found == [], "\n".join(found)


def test_the_glossary_has_the_course_terms_once_each():
    terms = read_glossary(GLOSSARY)
    words = [t.translation for t in terms]
    assert [w for w in COURSE_TERMS if w not in words] == []
    assert len(set(words)) == len(words), "one word, one entry"
    english = [t.english for t in terms]
    assert len(set(english)) == len(english)


def test_the_glossary_check_finds_a_different_word():
    terms = read_glossary(GLOSSARY)
    assert glossary_problems("### 3.3 He initialization", "### 3.3 He 初始化", terms) == []
    assert glossary_problems("### 3.3 He initialization", "### 3.3 HE初始化", terms)
    assert glossary_problems("Biases stay 0.", "偏差仍为 0。", terms)
    assert glossary_problems("the cost falls", "成本下降", terms)
    # A word the glossary avoids costs even where the English term is absent.
    assert glossary_problems("It learns.", "网络用渐变学习。", terms)


def test_kept_problems_find_changed_maths_code_and_numbers():
    ours = "The cost is $\\log 2 \\approx 0.6931$ after `model(...)`, 15000 iterations."
    assert kept_problems(ours, "代价是 $\\log 2 \\approx 0.6931$,`model(...)`,迭代 15000 次。") == []
    assert kept_problems(ours, "代价是 $\\ln 2 \\approx 0.6931$,`model(...)`,迭代 15000 次。")
    assert kept_problems(ours, "代价是 $\\log 2 \\approx 0.6931$,`model()`,迭代 15000 次。")
    assert kept_problems(ours, "代价是 $\\log 2 \\approx 0.6931$,`model(...)`,迭代一万五千次。")


# The machinery, on a copy of a catalog: what a translator meets.
@pytest.fixture
def copy_of(tmp_path):
    def make(name: str):
        assignment = assignments.get(name)
        path = tmp_path / f"{name}.po"
        shutil.copyfile(translation.catalog_path(COURSE, assignment, EDITION), path)
        return assignment, english(name), path

    return make


def test_a_changed_english_cell_has_no_translation_until_revised(copy_of):
    assignment, notebook, path = copy_of("planar")
    index, text = markdown_cells(notebook)[2]
    notebook["cells"][index]["source"] = [text.replace("no\nbetter than a coin", "no better than chance")]
    with pytest.raises(TranslationError) as info:
        translate(notebook, read_catalog(path), EDITION, assignment.notebook)
    assert f"markdown cell {index}" in str(info.value) and "no translation" in str(info.value)

    counts = update_catalog(path, notebook, assignment, EDITION)
    assert counts == {"new": 0, "fuzzy": 1, "dropped": 1, "to translate": 1}
    written = path.read_text(encoding="utf-8")
    assert "#, fuzzy" in written
    assert "# English before: better than a coin." in written  # what the translation was of
    stale = read_catalog(path)
    assert ["fuzzy" in p for p in problems(notebook, stale, EDITION)] == [True]
    with pytest.raises(TranslationError):
        translate(notebook, stale, EDITION, assignment.notebook)

    # The translator revises it and drops the flag: now it is used.
    changed = "".join(notebook["cells"][index]["source"])
    message = stale.get(changed)
    assert "抛硬币" in message.string  # the old translation, offered to revise
    message.string = message.string.replace("并不比抛硬币强", "和随便猜差不多")
    message.flags.discard("fuzzy")
    write_catalog(path, stale)
    out = translate(notebook, read_catalog(path), EDITION, assignment.notebook)
    assert "和随便猜差不多" in "".join(out["cells"][index]["source"])


def test_a_new_cell_gets_an_empty_entry_and_a_removed_one_is_dropped(copy_of):
    assignment, notebook, path = copy_of("initialization")
    notebook["cells"].insert(1, {"cell_type": "markdown", "metadata": {}, "source": ["A new cell."]})
    removed = next(i for i, c in enumerate(notebook["cells"]) if "".join(c["source"]) == "Now train from zeros:")
    del notebook["cells"][removed]
    counts = update_catalog(path, notebook, assignment, EDITION)
    assert counts["new"] == 1 and counts["dropped"] == 1 and counts["to translate"] == 1
    entries = read_catalog(path)
    assert entries.get("A new cell.").string == ""
    assert entries.get("Now train from zeros:") is None
    assert problems(notebook, entries, EDITION) == [
        "the notebook, markdown cell 1 ('A new cell.') has an empty translation"
    ]


def test_a_translation_without_chinese_is_refused(copy_of):
    assignment, notebook, path = copy_of("planar")
    entries = read_catalog(path)
    _, text = markdown_cells(notebook)[-1]
    entries.get(text).string = text  # the English copied over
    write_catalog(path, entries)
    found = problems(notebook, read_catalog(path), EDITION)
    assert len(found) == 1 and "holds no zh_CN text" in found[0]


def test_release_refuses_an_untranslated_cell_in_one_line_and_writes_nothing(tmp_path, capsys):
    course = tmp_path / "course"
    shutil.copytree(COURSE, course, ignore=shutil.ignore_patterns(*NBGRADER_OUTPUT))
    source = course / "source" / "planar" / "Planar_data_classification.ipynb"
    notebook = read_notebook(source)
    notebook["cells"][0]["source"] = ["# Planar data, a new title\n"]
    source.write_text(notebook_text(notebook), encoding="utf-8")
    before = (course / "source" / "planar_zh" / "Planar_data_classification.ipynb").read_text()
    out = tmp_path / "out"
    args = ["release", str(out), "--assignment", "planar", "--edition", "zh", "--course", str(course)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "markdown cell 0" in err and "no translation" in err
    assert not out.exists()
    assert (course / "source" / "planar_zh" / "Planar_data_classification.ipynb").read_text() == before

    assert main([*args[:2], *args[2:], "--update-translations"]) == 0
    assert "1 new, 0 fuzzy, 1 dropped; 1 cell(s) to translate" in capsys.readouterr().out
    entries = read_catalog(course / "translations" / "zh" / "planar.po")
    assert entries.get("# Planar data, a new title\n").string == ""


def test_update_translations_needs_an_edition(capsys):
    assert main(["release", "--update-translations"]) == 2
    assert "--edition" in capsys.readouterr().err


# The students' folders of the edition.
@pytest.mark.parametrize(
    "name, module",
    [(name, m) for name in NAMES for m in assignments.get(name).modules],
)
def test_the_chinese_students_get_the_same_stubs(name, module):
    assignment = assignments.get(name)
    solutions = assignment.solutions_dir(ROOT) / f"{module}.py"
    folder = translation.student_dir(ROOT, assignment, EDITION)
    assert (folder / f"{module}.py").read_text() == strip_solutions(solutions.read_text()), (
        REGENERATE.format(name=name)
    )


@pytest.mark.parametrize("name", NAMES)
def test_no_solution_line_reaches_the_chinese_students(name):
    assignment = assignments.get(name)
    solutions = assignment.solutions_dir(ROOT)
    secret = [
        line
        for module in assignment.modules
        for line in solution_lines((solutions / f"{module}.py").read_text())
    ]
    folder = translation.student_dir(ROOT, assignment, EDITION)
    shipped = sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert {p.name for p in shipped} >= {assignment.notebook, "test_assignment.py", "conftest.py"}
    for path in shipped:
        text = path.read_text(encoding="utf-8")
        lines = {line.strip() for line in text.splitlines()}
        assert [line for line in secret if line in lines] == [], path.name
        assert "SOLUTION" not in text, path.name
    assert "--lang zh" in (folder / "pytest.ini").read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_release_edition_zh_regenerates_the_committed_chinese_assignment(name, tmp_path):
    """`initlab release --edition zh` on a copy of the course rewrites neither course
    notebook and writes exactly the Chinese students' stubs and notebook, with nbgrader."""
    assignment = assignments.get(name)
    course = tmp_path / "course"
    shutil.copytree(COURSE, course, ignore=shutil.ignore_patterns(*NBGRADER_OUTPUT))
    sources = [
        assignment.course_notebook(course),
        translation.course_notebook(course, assignment, EDITION),
    ]
    before = [p.read_text(encoding="utf-8") for p in sources]
    out = tmp_path / "out"
    args = ["release", str(out), "--assignment", name, "--edition", "zh", "--course", str(course)]
    assert main(args) == 0
    assert [p.read_text(encoding="utf-8") for p in sources] == before
    folder = translation.student_dir(ROOT, assignment, EDITION)
    for file in [*(f"{m}.py" for m in assignment.modules), assignment.notebook]:
        assert (out / file).read_text(encoding="utf-8") == (folder / file).read_text(
            encoding="utf-8"
        ), f"{file}: {REGENERATE.format(name=name)}"


@pytest.mark.slow
def test_the_chinese_self_check_grades_the_chinese_notebook_in_chinese(tmp_path):
    """A student of the Chinese edition who writes the functions in its notebook runs
    pytest in the folder: graded from that notebook, told in Chinese."""
    import subprocess
    import sys

    from initlab.release import function_source, without_fences

    assignment = assignments.get("initialization")
    folder = tmp_path / "student"
    shutil.copytree(translation.student_dir(ROOT, assignment, EDITION), folder)
    notebook = read_notebook(folder / assignment.notebook)
    solutions = assignment.solutions_dir(ROOT)
    for cell in notebook["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            name = meta["grade_id"]
            path = solutions / f"{assignment.module_of(name)}.py"
            source = without_fences(function_source(path.read_text(), name))
            cell["source"] = source.replace("2.0 / layers_dims[l - 1]", "1.0 / layers_dims[l - 1]")
    (folder / assignment.notebook).write_text(json.dumps(notebook, ensure_ascii=False))
    done = subprocess.run(
        [sys.executable, "-m", "pytest"], cwd=folder, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1, done.stdout[-2000:]
    out = done.stdout
    assert "1 failed, 7 passed" in out
    assert "3 / 15 分（评分依据：Initialization.ipynb）" in out
    assert "[scale_xavier] W1 的缩放系数是 0.7071" in out and "He 初始化用的是" in out
    assert re.search(r"总分\s+88 / 100", out)


@pytest.mark.parametrize("name", NAMES)
def test_updating_a_current_catalog_changes_nothing(copy_of, name):
    assignment, notebook, path = copy_of(name)
    before = path.read_bytes()
    counts = update_catalog(path, notebook, assignment, EDITION)
    assert counts == {"new": 0, "fuzzy": 0, "dropped": 0, "to translate": 0}
    assert path.read_bytes() == before
