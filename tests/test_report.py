"""``initlab report LEDGER --out FILE``: the page says what the ledger holds, shows student
text as text, refuses bad input without writing anything, and opens in a real browser
with its figures, without network and without console errors."""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from initlab.cli import main
from initlab.ledger import Ledger, Result
from initlab.plots import INIT_COLORS
from initlab.report import function_color
from tests.test_bulk import INITIALIZATION, MISTAKE, PROPAGATION, ROOT, he_first
from tests.test_classroom import raising

SCRIPT_NAME = "<script>alert(1)</script>.ipynb"
MARKUP = "<img src=x onerror=alert(1)> & </td></table><b>bold</b>"
# A file name cannot hold "/": the notebook's name is the closest a student can hand in.
NOTEBOOK_NAME = "<script>alert(1)<script>.ipynb"
STUDENT_MARKUP = "<img src=x onerror=alert(1)>"
STUB = (ROOT / "assignment" / "initialization" / "initialization.py").read_text()


# ------------------------------------------------------------------------ reading the page


class Page(HTMLParser):
    """The page's elements, and per section its tables as rows of cell texts (markup
    read back to text: an escaped student id reads as the id)."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: Counter = Counter()
        self.ids: Counter = Counter()
        self.sections: dict[str, dict] = {}
        self._section = None
        self._row = self._cell = None
        self._heading = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids[attrs["id"]] += 1
        if tag == "section":
            self._section = {"tables": [], "headings": [], "text": []}
            self.sections[attrs["id"]] = self._section
        elif self._section is None:
            return
        elif tag == "table":
            self._section["tables"].append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag in ("h2", "h3", "h4"):
            self._heading = []

    def handle_endtag(self, tag):
        if self._section is None:
            return
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._section["tables"][-1].append(self._row)
            self._row = None
        elif tag in ("h2", "h3", "h4") and self._heading is not None:
            self._section["headings"].append("".join(self._heading).strip())
            self._heading = None
        elif tag == "section":
            self._section = None

    def handle_data(self, data):
        if self._section is None:
            return
        self._section["text"].append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._heading is not None:
            self._heading.append(data)

    def table(self, section: str, first_header: str) -> list[list[str]]:
        """The rows (without the header) of the section's table whose first column is
        first_header."""
        for table in self.sections[section]["tables"]:
            if table and table[0][0] == first_header:
                return table[1:]
        raise AssertionError(f"no table {first_header!r} in {section}")


def report(ledger: Path, out: Path, *options: str) -> int:
    return main(["report", str(ledger), "--out", str(out), *options])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------- a ledger written by hand


def a_test(name: str, score: float, worth: float, status: str, codes: list, message: str):
    return {"name": name, "score": score, "max_score": worth, "status": status,
            "diagnoses": codes, "message": message, "source": "initialization.py"}  # fmt: skip


def hostile_ledger(path: Path) -> Path:
    """One result of each status that needs a person, with markup in every text a
    student decides, and one fine submission graded twice (the first one superseded)."""
    ledger = Ledger(path)
    he = "initialize_parameters_he"
    zeros = "initialize_parameters_zeros"
    results = [
        Result("fine", "d0", "v", False, "ok", 5.0, 25.0, seconds=0.5,
               tests=[a_test(zeros, 0.0, 10.0, "failed", ["not_zero"], "old"),
                      a_test(he, 5.0, 15.0, "failed", ["scale_xavier"], "old")]),
        Result("fine", "d1", "v", False, "ok", 25.0, 25.0, seconds=0.4,
               tests=[a_test(zeros, 10.0, 10.0, "passed", [], ""),
                      a_test(he, 15.0, 15.0, "passed", [], "")]),
        Result(SCRIPT_NAME, "d2", "v", False, "error", 10.0, 25.0, seconds=0.7,
               tests=[a_test(zeros, 10.0, 10.0, "passed", [], ""),
                      a_test(he, 0.0, 15.0, "error", ["exception"], f"raised ValueError: {MARKUP}")]),
        Result("slow", "d3", "v", False, "timeout", 10.0, 25.0, seconds=3.0,
               tests=[a_test(zeros, 10.0, 10.0, "passed", [], ""),
                      a_test(he, 0.0, 15.0, "error", ["timeout"], "did not finish in 2 s")]),
        Result("empty", "d4", "v", False, "invalid", 0.0, 25.0, reason="the submission folder is empty"),
        Result(STUDENT_MARKUP, "d5", "v", False, "crashed", reason=f"it took down a grading process twice {MARKUP}"),
        Result("unlucky", "d6", "v", False, "infrastructure", reason="the grading process could not start"),
    ]  # fmt: skip
    for when, result in enumerate(results):
        ledger.record(result, 1000.0 + when)
    ledger.close()
    return path


def test_student_text_is_shown_as_text_and_every_status_that_needs_a_person_is_listed(tmp_path):
    db = hostile_ledger(tmp_path / "g.sqlite")
    before = digest(db)
    out = tmp_path / "report.html"
    assert report(db, out) == 0
    assert digest(db) == before  # read, never written
    text = out.read_text()
    # The markup is there as text, never as markup: no element but the page's own.
    assert "<script" not in text and "<img" not in text and "<b>" not in text
    assert html_escaped(SCRIPT_NAME) in text and html_escaped(MARKUP) in text
    page = Page(text)
    assert set(page.tags) <= {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "h4", "p", "code",
        "section", "table", "thead", "tbody", "tr", "th", "td", "span", "div", "details",
        "summary", "ul", "li", "br", "svg", "g", "path", "defs", "clippath", "use", "rect",
        "pattern", "text", "polyline", "line",
    }, set(page.tags)  # fmt: skip
    people = page.table("s0", "student")
    assert [(row[0], row[1]) for row in people] == [
        (SCRIPT_NAME, "error"), ("slow", "timeout"), ("empty", "invalid"),
        (STUDENT_MARKUP, "crashed"), ("unlucky", "infrastructure"),
    ]  # fmt: skip
    why = {row[0]: row[3] for row in people}
    assert MARKUP in why[SCRIPT_NAME]  # the failed function's message, read back as text
    assert MARKUP in why[STUDENT_MARKUP] and "could not start" in why["unlucky"]
    # "fine" counts once, with its latest result: 100%, and no diagnosis of the old one.
    codes = [row[0] for row in page.table("s0", "diagnosis")]
    assert sorted(codes) == ["exception", "timeout"]
    assert "1 earlier result of the same students" in "".join(page.sections["s0"]["text"])
    functions = {row[0]: row for row in page.table("s0", "function")}
    # Graded functions: fine, the script-named one and slow; zeros passed by all three.
    assert functions["initialize_parameters_zeros"][3] == "3 / 3 (100%)"
    assert functions["initialize_parameters_he"][3] == "1 / 3 (33%)"
    assert functions["initialize_parameters_he"][2] == "33.3%"


def test_a_ledger_where_nothing_was_graded_still_makes_a_page(tmp_path):
    ledger = Ledger(tmp_path / "g.sqlite")
    ledger.record(Result("ann", "d", "v", False, "infrastructure", reason="no grader"), 1.0)
    ledger.close()
    out = tmp_path / "report.html"
    assert report(tmp_path / "g.sqlite", out) == 0
    page = Page(out.read_text())
    assert page.table("s0", "student") == [["ann", "infrastructure", "", "no grader"]]
    assert page.tags["svg"] == 0
    assert "No function was graded." in "".join(page.sections["s0"]["text"])


def html_escaped(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def test_the_initializers_have_their_colours_of_the_demo():
    assert function_color("initialize_parameters_he") == INIT_COLORS["he"]
    assert function_color("initialize_parameters_zeros") == INIT_COLORS["zeros"]
    assert function_color("initialize_parameters_xavier") == INIT_COLORS["xavier"]
    assert function_color("forward_propagation") not in INIT_COLORS.values()


# ------------------------------------------------------------------------------ bad input


def sqlite_of_something_else(path: Path) -> Path:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE gradebook (student TEXT)")
    connection.commit()
    connection.close()
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p, "does not exist"),
        (lambda p: p.write_text("student,score\nann,3\n") and p, "is not an initlab ledger"),
        (lambda p: p.touch() or p, "is not an initlab ledger (it is an empty database)"),
        (sqlite_of_something_else, "is a SQLite database of something else"),
        (lambda p: Ledger(p).close() or p, "holds no results yet"),
        (lambda p: p.mkdir() or p, "is not a file"),
    ],
    ids=["missing", "text", "empty-file", "other-sqlite", "empty-ledger", "folder"],
)
def test_bad_input_is_one_line_exit_2_and_nothing_is_written(tmp_path, capsys, make, message):
    ledger = make(tmp_path / "g.sqlite")
    before = digest(ledger) if ledger.is_file() else None
    out = tmp_path / "report.html"
    out.write_text("the report of last week")
    assert report(ledger, out, "--force") == 2
    err = capsys.readouterr().err
    assert err.startswith("initlab report: ") and err.count("\n") == 1, err
    assert message in err, err
    assert out.read_text() == "the report of last week"
    assert not list(tmp_path.glob(".report.html*"))  # no temporary file left
    if before is not None:
        assert digest(ledger) == before


def test_an_existing_page_is_replaced_only_with_force(tmp_path, capsys):
    db = hostile_ledger(tmp_path / "g.sqlite")
    out = tmp_path / "report.html"
    out.write_text("mine")
    assert report(db, out) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert out.read_text() == "mine"
    assert report(db, out, "--force") == 0
    assert "wrote" in capsys.readouterr().out
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert report(db, db, "--force") == 2  # onto the ledger itself
    assert "is the ledger itself" in capsys.readouterr().err
    assert report(db, tmp_path / "no" / "r.html") == 2
    assert "is not a folder" in capsys.readouterr().err


def test_choosing_an_assignment_or_rubric_the_ledger_does_not_hold(tmp_path, capsys):
    db = hostile_ledger(tmp_path / "g.sqlite")
    out = tmp_path / "report.html"
    assert report(db, out, "--rubric", "course") == 2
    err = capsys.readouterr().err
    assert "holds no results for --rubric course; it holds initialization, rubric full" in err
    assert not out.exists()
    assert report(db, out, "--assignment", "initialization", "--rubric", "full") == 0


# -------------------------------------------------------------- a class graded for real


def notebook_that_does_not_parse() -> str:
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": "def initialize_parameters_he(layers_dims:\n    pass\n"}  # fmt: skip
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


CLASS = {
    "honest_1": INITIALIZATION,
    "honest_2": INITIALIZATION,
    "honest_3": INITIALIZATION,
    "xavier_in_he": MISTAKE,
    "xavier_in_he_too": MISTAKE,
    "stub": STUB,
    "loops": he_first("while True:\n    pass"),
    STUDENT_MARKUP: raising("<b>bold</b> & </td><script>alert(2)</script>"),
}


def write_class(folder: Path) -> None:
    for name, source in CLASS.items():
        student = folder / name
        student.mkdir(parents=True)
        (student / "initialization.py").write_text(source)
        (student / "propagation.py").write_text(PROPAGATION)
    (folder / "notebook_only").mkdir()
    (folder / "notebook_only" / NOTEBOOK_NAME).write_text(notebook_that_does_not_parse())
    (folder / "empty").mkdir()


def latest_rows(db: Path) -> dict[tuple, dict[str, dict]]:
    """(assignment, rubric) -> student -> the ledger's latest row, read with SQL of its own."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows: dict[tuple, dict[str, dict]] = {}
    for rowid, student, assignment, rubric, status, score, reason in connection.execute(
        "SELECT id, student_id, assignment, rubric, status, score, reason FROM submissions "
        "ORDER BY recorded_at, id"
    ):
        tests = [
            (name, json.loads(codes), message)
            for name, codes, message in connection.execute(
                "SELECT name, diagnoses, message FROM tests WHERE submission = ?", (rowid,)
            )
        ]
        rows.setdefault((assignment, rubric), {})[student] = {
            "status": status, "score": score, "reason": reason, "tests": tests,
        }  # fmt: skip
    connection.close()
    return rows


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """The class bulk-graded with the full rubric and then the course's, into one ledger,
    and its report."""
    folder = tmp_path_factory.mktemp("class")
    write_class(folder / "submissions")
    db = folder / "grades.sqlite"
    for rubric in ("full", "course"):
        args = ["grade", str(folder / "submissions"), "--db", str(db), "--rubric", rubric]
        assert main([*args, "--timeout", "2", "--workers", "2"]) == 0
    out = folder / "report.html"
    assert report(db, out) == 0
    return db, out


@pytest.mark.slow
def test_the_page_says_what_the_ledger_holds(graded_class):
    db, out = graded_class
    page = Page(out.read_text())
    ledger = latest_rows(db)
    assert list(ledger) == [("initialization", "full"), ("initialization", "course")]
    headings = [page.sections[s]["headings"][0] for s in ("s0", "s1")]
    assert headings == ["initialization, rubric full", "initialization, rubric course"]
    for section, key in (("s0", ("initialization", "full")), ("s1", ("initialization", "course"))):
        rows = ledger[key]
        text = " ".join("".join(page.sections[section]["text"]).split())
        statuses = Counter(row["status"] for row in rows.values())
        assert f"{len(rows)} submissions: " + ", ".join(
            f"{count} {status}" for status, count in sorted(statuses.items())
        ) in text
        # The diagnoses, the most frequent first, with the ledger's counts.
        codes = Counter(code for row in rows.values() for _, found, _ in row["tests"] for code in found)
        table = page.table(section, "diagnosis")
        shown = [(row[0], int(row[1])) for row in table]
        assert shown == sorted(codes.items(), key=lambda item: (-item[1], item[0]))[: len(shown)]
        assert {row[0] for row in table} == set(codes)  # fewer than a dozen here
        for row in table:  # each example is a message of a test with that code
            examples = {m for r in rows.values() for _, found, m in r["tests"] if row[0] in found}
            assert " ".join(row[4].split()) in {" ".join(m.split()) for m in examples}
        # Everyone not ok, with the status the ledger holds.
        people = {row[0]: row[1] for row in page.table(section, "student")}
        assert people == {s: row["status"] for s, row in rows.items() if row["status"] != "ok"}
    full = ledger[("initialization", "full")]
    assert full["loops"]["status"] == "timeout" and full["empty"]["status"] == "invalid"
    assert full[STUDENT_MARKUP]["status"] == "error"
    assert full["notebook_only"]["status"] == "error"
    top = page.table("s0", "diagnosis")[0]
    assert top[:2] == ["missing_function", "7"]  # the notebook's seven, then the stub's four
    assert page.table("s0", "diagnosis")[1][:2] == ["not_implemented", "4"]
    assert "scale_xavier" in {row[0] for row in page.table("s0", "diagnosis")}
    # The notebook's name is in its message, as text.
    why = {row[0]: row[3] for row in page.table("s0", "student")}
    assert NOTEBOOK_NAME in why["notebook_only"]
    text = out.read_text()
    assert "<script" not in text and html_escaped(NOTEBOOK_NAME) in text
    # Four figures a section (scores, functions, diagnoses, times), and nothing loaded.
    assert page.tags["svg"] == 8
    assert [name for name, count in page.ids.items() if count > 1] == []  # figures share none
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        'xmlns:xlink="http://www.w3.org/1999/xlink"', ""
    )


# ------------------------------------------------------------------------ a real browser


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")


def open_in_browser(page: Path, folder: Path, *extra: str) -> tuple[str, str, set[str]]:
    """The page's DOM after loading, the browser's log, and the URLs the page asked the
    network for: Chromium headless with every host unresolvable and a dead proxy."""
    folder.mkdir(exist_ok=True)
    net_log = folder / "net.json"
    command = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        f"--user-data-dir={folder / 'profile'}", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-default-apps",
        "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
        "--enable-logging=stderr", "--v=0", f"--log-net-log={net_log}", *extra,
        page.resolve().as_uri(),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    events = json.loads(net_log.read_text())["events"]
    # The page's own requests: those of its file:// origin (the browser makes its own).
    asked = {
        event["params"]["url"]
        for event in events
        if "url" in event.get("params", {})
        and event["params"].get("network_isolation_key", "").startswith("file://")
    }
    return done.stdout, done.stderr, {url for url in asked if not url.startswith("file:")}


def console_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.mark.slow
def test_the_browser_check_sees_console_errors_and_network_requests(tmp_path):
    """The check below can fail: a page with a failing script and an image from the web."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><p>x</p><script>undefinedFunction();</script>"
        '<img src="http://example.com/a.png">'
    )
    _, log, asked = open_in_browser(bad, tmp_path / "browser", "--dump-dom")
    assert any("Uncaught ReferenceError" in line for line in console_lines(log)), log[-2000:]
    assert asked == {"http://example.com/a.png"}


@pytest.mark.slow
def test_the_page_opens_in_chromium_without_network_or_console_errors(graded_class, tmp_path):
    db, out = graded_class
    dom, log, asked = open_in_browser(out, tmp_path / "dom", "--dump-dom")
    assert console_lines(log) == [], console_lines(log)
    assert asked == set()
    loaded = Page(dom)
    # As the browser built it: the figures, the tables, and not one element from a student.
    assert loaded.tags["svg"] == 8 and loaded.tags["script"] == 0 and loaded.tags["img"] == 0
    assert loaded.tags["b"] == 0
    people = {row[0] for row in loaded.table("s0", "student")}
    assert {STUDENT_MARKUP, "loops", "empty", "notebook_only"} <= people

    screenshot = Path(os.environ.get("INITLAB_REPORT_SCREENSHOT", tmp_path / "report.png"))
    _, log, asked = open_in_browser(
        out, tmp_path / "shot", f"--screenshot={screenshot}", "--window-size=1280,2600"
    )
    assert console_lines(log) == [] and asked == set()
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(screenshot).convert("RGB"))
    assert pixels.shape == (2600, 1280, 3)
    found, counts = np.unique(pixels.reshape(-1, 3), axis=0, return_counts=True)
    colours = {tuple(int(v) for v in rgb): int(n) for rgb, n in zip(found, counts, strict=True)}
    assert len(colours) > 200, len(colours)  # not blank: figures, text, tables
    # The function chart's bars, each initializer in its own colour, drawn in the page.
    for name in ("zeros", "random", "he", "xavier"):
        rgb = tuple(int(INIT_COLORS[name][i : i + 2], 16) for i in (1, 3, 5))
        assert colours.get(rgb, 0) > 500, (name, colours.get(rgb, 0))
