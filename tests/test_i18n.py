"""The Chinese catalog: every text has a translation with the same placeholders, the
language is chosen as documented, a stale compiled catalog is never read, and a
Chinese run speaks Chinese with the numbers of the English one."""

import json
import re
import shutil
import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from initlab import _catalogs, i18n
from initlab.cli import main
from initlab.messages import say, set_language

ROOT = Path(__file__).resolve().parents[1]
PO = i18n.catalog_path("zh", ".po")
SOLUTIONS = ROOT / "graders" / "solutions" / "initialization"


@pytest.fixture(autouse=True)
def _english_after(monkeypatch):
    for variable in ("INITLAB_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    yield
    set_language(None)


def catalog():
    with PO.open("rb") as file:
        return {(m.context, m.id): m for m in read_po(file) if m.id}


def fields(template: str) -> list[str]:
    """The named fields with their format specs ({value!r}, {x:.4g}); %-style for argparse."""
    if "%(" in template or "%s" in template:
        return sorted(re.findall(r"%(?:\(\w+\))?[sr]", template))
    return sorted(  # each once: a translation may name a value twice
        {
            f"{name}!{conversion}:{spec}"
            for _text, name, spec, conversion in string.Formatter().parse(template)
            if name is not None
        }
    )


def test_every_text_has_a_chinese_translation():
    translated = catalog()
    missing = [
        (context, english)
        for context, english, _where in _catalogs.entries()
        if not getattr(translated.get((context, english)), "string", "")
        or translated[(context, english)].fuzzy
    ]
    assert missing == []


def test_placeholders_are_the_same_in_both_languages():
    for (context, english), message in catalog().items():
        assert fields(message.string) == fields(english), (context, english, message.string)


def test_the_template_in_the_repository_is_up_to_date():
    with (PO.parents[2] / "initlab.pot").open("rb") as file:
        template = {(m.context, m.id) for m in read_po(file) if m.id}
    assert template == {(c, e) for c, e, _w in _catalogs.entries()}, "python -m initlab._catalogs"


def test_a_changed_english_message_is_no_longer_translated():
    # The translation is keyed by the English template: a new sentence needs a new one.
    set_language("zh")
    assert i18n.lookup("not_implemented", "{name} is not written yet") == (
        "{name} is not written yet"
    )
    assert "还没有实现" in i18n.lookup("not_implemented", say.__globals__["CATALOG"]["not_implemented"])


@pytest.mark.parametrize(
    "environment, expected",
    [
        ({}, "en"),
        ({"INITLAB_LANG": "zh"}, "zh"),
        ({"LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LC_MESSAGES": "zh_TW"}, "zh"),
        ({"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, "en"),  # LC_ALL first, as gettext
        ({"LC_ALL": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "zh"),
        ({"INITLAB_LANG": "en", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "en"),
    ],
)
def test_the_language_comes_from_the_environment(environment, expected):
    assert i18n.from_environment(environment) == expected


def test_set_language_wins_and_none_goes_back_to_the_environment(monkeypatch):
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    set_language("en")
    assert i18n.language() == "en"
    set_language(None)
    assert i18n.language() == "zh"
    with pytest.raises(ValueError):
        set_language("fr")


def test_a_stale_mo_is_not_read(tmp_path):
    locale = tmp_path / "locale"
    shutil.copytree(PO.parents[2], locale, ignore=shutil.ignore_patterns("*.mo"))
    po = i18n.catalog_path("zh", ".po", locale)
    mo = po.with_suffix(".mo")
    mo.write_bytes(i18n.compile_po(po))
    assert i18n._load("zh", locale).gettext("total") == "总分"
    # The .po changes after the .mo was compiled: the .po is what is read.
    po.write_text(po.read_text(encoding="utf-8").replace('"总分"', '"合计"'), encoding="utf-8")
    i18n._load.cache_clear()
    assert i18n._load("zh", locale).gettext("total") == "合计"
    i18n._load.cache_clear()


def test_a_built_package_reads_its_mo_without_the_po(tmp_path):
    locale = tmp_path / "locale"
    mo = i18n.catalog_path("zh", ".mo", locale)
    mo.parent.mkdir(parents=True)
    mo.write_bytes(i18n.compile_po(PO))
    assert i18n._load("zh", locale).gettext("total") == "总分"
    i18n._load.cache_clear()


# Words allowed in a Chinese text: code, names and the course's own terms.
CODE = re.compile(
    r"`[^`]*`|\([^()]*\)|\[[^\[\]]*\]|[\w.]*[_\d()\[\]=*/+<>^][\w.()\[\]=*/+<>^]*|"
    r"np\.\w+[\w.]*|\b(?:He|Xavier|ReLU|relu|sigmoid|tanh|nan|inf|cache|numpy|ndarray|"
    r"float64|NotImplementedError|SyntaxError|NameError|ValueError|TypeError|MiB|Dask|worker|"
    r"notebook|initlab|nbgrader|Gradescope|CSV|JSON|SQLite|In|AL|X|Y|W|Z|A|b|m|L|dW|db|dZ|"
    r"update_parameters|learning_rate|layers_dims|parameters|grads|predictions|loss|float)\b"
)


# Python's and the student's own exception text (NameError: name 'x' is not defined),
# which is shown as it was raised, up to the sentence around it.
# So is the student's line of code that a message quotes (第 3 行：L = len(...) # a comment).
RAISED = re.compile(r"\b[A-Z]\w*(?:Error|Exception|Warning)\b:[^（）()；;]*|第 \d+ 行[:：][^）]*")


def english_sentence(text: str) -> str | None:
    """A run of three English words outside code, names, numbers and exception text, if
    the text has one."""
    bare = CODE.sub(" ", RAISED.sub(" ", text))
    match = re.search(r"\b[A-Za-z]{2,}\b(?:[ ,;:]+\b[A-Za-z]{2,}\b){2,}", bare)
    return match.group(0) if match else None


def test_the_detector_finds_english():
    assert english_sentence("W1 is scaled by 0.7071") == "is scaled by"
    assert english_sentence("f 抛出了异常 NameError: name 'x' is not defined（第 3 行）") is None
    assert english_sentence("cache[0] 是 tuple of 2 items；应该是") is not None
    assert english_sentence("（a.py，第 3 行: L = 1 # number of layers with weights）") is None
    assert english_sentence("W1 的缩放系数是 0.7071 = sqrt(1/2)：这是 Xavier 初始化的") is None


def test_every_catalog_message_in_chinese_has_no_english_sentence():
    for (context, english), message in catalog().items():
        found = english_sentence(message.string)
        assert found is None, (context, english, message.string, found)


def mistakes(tmp_path):
    """Submissions with the course's mistakes, as test_mistakes makes them."""
    initialization = (SOLUTIONS / "initialization.py").read_text()
    propagation = (SOLUTIONS / "propagation.py").read_text()
    changes = [
        ("initialization.py", "2.0 / layers_dims[l - 1]", "1.0 / layers_dims[l - 1]"),
        ("initialization.py", "np.zeros((layers_dims[l], 1))", "np.random.randn(layers_dims[l], 1)"),
        ("propagation.py", "np.nansum", "np.sum"),
        ("propagation.py", "keepdims=True", "keepdims=False"),
        ("initialization.py", "def initialize_parameters_zeros", "def initialize_parameters_nothing"),
    ]
    for number, (file, old, new) in enumerate(changes):
        folder = tmp_path / f"student{number}"
        folder.mkdir()
        texts = {"initialization.py": initialization, "propagation.py": propagation}
        at = texts[file].find("def initialize_parameters_random") if "randn" in new else 0
        assert old in texts[file][at:], old
        texts[file] = texts[file][:at] + texts[file][at:].replace(old, new, 1)
        for name, text in texts.items():
            (folder / name).write_text(text)
        yield folder
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "initialization.py").write_text("import init_utils\ndef initialize_parameters_he(:\n")
    (broken / "propagation.py").write_text(propagation)
    yield broken


PLANAR = ROOT / "graders" / "solutions" / "planar" / "planar.py"


def planar_mistakes(tmp_path):
    """The planar exercise's mistakes: the tanh derivative, the scale, the threshold."""
    source = PLANAR.read_text()
    changes = [
        ("1 - np.power(A1, 2)", "A1 * (1 - A1)"),
        ("W1 = np.random.randn(n_h, n_x) * 0.01", "W1 = np.random.randn(n_h, n_x)"),
        ("A2 > 0.5", "A2 >= 0.5"),
        ("learning_rate=1.2", "learning_rate=0.5"),
    ]
    for number, (old, new) in enumerate(changes):
        assert old in source, old
        folder = tmp_path / f"planar{number}"
        folder.mkdir()
        (folder / "planar.py").write_text(source.replace(old, new, 1))
        yield folder


def corpus(tmp_path):
    for folder in mistakes(tmp_path):
        yield folder, []
    for folder in planar_mistakes(tmp_path):
        yield folder, ["--assignment", "planar"]


def test_a_chinese_run_of_the_mistakes_speaks_chinese_with_the_english_numbers(tmp_path, capsys):
    for folder, options in corpus(tmp_path):
        assert main(["grade", "--json", *options, str(folder)]) == 0
        english = json.loads(capsys.readouterr().out)
        assert main(["grade", "--json", "--lang", "zh", *options, str(folder)]) == 0
        chinese = json.loads(capsys.readouterr().out)
        set_language(None)
        assert chinese["score"] == english["score"]
        assert any(t["diagnoses"] for t in english["tests"]), folder  # a mistake was found
        for en, zh in zip(english["tests"], chinese["tests"], strict=True):
            assert (zh["score"], zh["diagnoses"], zh["status"]) == (
                en["score"], en["diagnoses"], en["status"]
            )
            if en["diagnoses"]:
                assert english_sentence(zh["message"]) is None, zh["message"]
                assert zh["message"] != en["message"]
                numbers = re.findall(r"\d+\.\d+", en["message"])
                assert all(n in zh["message"] for n in numbers), (en["message"], zh["message"])


@pytest.mark.parametrize("how", ["option", "option after", "INITLAB_LANG", "LANG"])
def test_each_way_of_asking_selects_chinese(tmp_path, capsys, monkeypatch, how):
    folder = next(mistakes(tmp_path))
    argv = ["grade", str(folder)]
    if how == "option":
        argv = ["--lang", "zh", *argv]
    elif how == "option after":
        argv = [*argv, "--lang", "zh"]
    elif how == "INITLAB_LANG":
        monkeypatch.setenv("INITLAB_LANG", "zh")
    else:
        monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "/ 100 分" in out and "He 初始化用的是 sqrt(2/n_{l-1})" in out, out


def test_english_is_the_default_and_unchanged(tmp_path, capsys):
    folder = next(mistakes(tmp_path))
    assert main(["grade", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "/ 100 points" in out and "that is Xavier's sqrt(1/n_{l-1})" in out
    assert re.search(r"[\u4e00-\u9fff]", out) is None


def test_the_help_and_argparse_errors_are_translated(capsys):
    with pytest.raises(SystemExit):
        main(["--lang", "zh", "grade", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("用法：") and "输出一个 JSON 对象" in out
    with pytest.raises(SystemExit):
        main(["grade", "--lang", "zh", "--timeout", "-1", "x"])
    assert "应为正数" in capsys.readouterr().err


def test_no_function_that_translates_binds_the_name_underscore():
    # `for _, x in ...` in a function that calls _("...") makes _ a local: an error at run time.
    import ast

    for path in sorted((ROOT / "src" / "initlab").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            inner = list(ast.walk(node))
            binds = any(isinstance(n, ast.Name) and n.id == "_" and isinstance(n.ctx, ast.Store)
                        and not _in_comprehension(n, node) for n in inner)
            calls = any(isinstance(n, ast.Call) and getattr(n.func, "id", "") == "_" for n in inner)
            assert not (binds and calls), f"{path.name}: {node.name} binds _ and translates"


def _in_comprehension(name, function):
    import ast

    for node in ast.walk(function):
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            if any(n is name for n in ast.walk(node)):
                return True
    return False


def test_the_notebook_check_speaks_the_language_it_is_given(capsys):
    import numpy as np

    from initlab.checks.notebook import check

    def initialize_parameters_he(layers_dims):
        np.random.seed(3)
        return {
            key: value
            for l in range(1, len(layers_dims))
            for key, value in (
                (f"W{l}", np.random.randn(layers_dims[l], layers_dims[l - 1])
                 * np.sqrt(1 / layers_dims[l - 1])),
                (f"b{l}", np.zeros((layers_dims[l], 1))),
            )
        }

    namespace = {"initialize_parameters_he": initialize_parameters_he, "np": np}
    score = check("initialize_parameters_he", namespace, lang="zh")
    chinese = capsys.readouterr().out
    assert check("initialize_parameters_he", namespace) == score < 15
    english = capsys.readouterr().out
    assert chinese.startswith("initialize_parameters_he：") and " 分" in chinese
    assert "这是 Xavier 初始化的 sqrt(1/n_{l-1})" in chinese and english_sentence(chinese) is None
    assert "that is Xavier's" in english and i18n.language() == "en"


def test_chinese_figures_draw_with_the_cjk_font_or_stay_english(monkeypatch):
    from initlab import plots

    set_language("zh")
    if plots.cjk_font() is None:  # no font: English rather than empty boxes
        assert plots.figure_text("iteration") == "iteration"
        return
    from matplotlib import font_manager

    assert plots.figure_text("iteration") == "迭代次数"
    import matplotlib

    assert plots.cjk_font() in matplotlib.rcParams["font.family"]
    found = font_manager.findfont(font_manager.FontProperties(family=plots.cjk_font()))
    assert Path(found).name == "NotoSansCJK-Regular.ttc"
    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    assert plots.figure_text("iteration") == "iteration"


@pytest.mark.slow  # a student's pytest in a subprocess, with LANG and with --lang
@pytest.mark.parametrize("how", ["LANG", "--lang"])
def test_a_students_pytest_speaks_chinese(tmp_path, how):
    import os
    import subprocess
    import sys

    folder = tmp_path / "assignment"
    shutil.copytree(ROOT / "assignment" / "initialization", folder,
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    for name in ("initialization", "propagation"):
        (folder / f"{name}.py").write_text((SOLUTIONS / f"{name}.py").read_text())
    wrong = (folder / "propagation.py").read_text().replace("np.nansum", "np.sum", 1)
    (folder / "propagation.py").write_text(wrong)
    environment = {k: v for k, v in os.environ.items() if k not in ("INITLAB_LANG", "LC_ALL")}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    if how == "LANG":
        environment["LANG"] = "zh_CN.UTF-8"
    else:
        environment["LANG"] = "C.UTF-8"
        command.append("--lang=zh")
    result = subprocess.run(command, cwd=folder, env=environment, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    out = result.stdout
    assert result.returncode == 1, out
    assert "0 / 10 分（评分依据：propagation.py）" in out
    assert "请用 np.nansum" in out and "得分" in out and re.search(r"总分\s+90 / 100", out)
    assert "compute_loss                         0 / 10   未通过" in out


MISTAKE_TESTS = [
    "tests/test_mistakes.py", "tests/test_planar.py", "tests/test_checks_initializers.py",
    "tests/test_checks_propagation.py", "tests/test_loader.py", "tests/test_submissions.py",
    "tests/test_course_notebooks.py", "tests/test_grading.py", "tests/test_timeouts.py",
]  # fmt: skip


@pytest.mark.slow  # the mistake tests run again, in Chinese, in a subprocess
def test_the_whole_mistake_corpus_in_chinese_has_no_english_sentence(tmp_path):
    import os
    import subprocess
    import sys

    audit = tmp_path / "diagnoses.jsonl"
    environment = {**os.environ, "INITLAB_LANG": "zh", "INITLAB_ZH_AUDIT": str(audit)}
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.zh_audit", "-p", "no:cacheprovider",
         "-m", "not slow", *MISTAKE_TESTS],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=900,
    )  # fmt: skip (its tests assert English words: many fail, what they printed is the point)
    said = [json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines()]
    assert len({d["id"] for d in said}) > 50, "the mistake tests gave few diagnoses"
    english = {(d["id"], english_sentence(d["message"]), d["message"]) for d in said
               if english_sentence(d["message"])}  # fmt: skip
    assert not english, sorted(english)[:10]
