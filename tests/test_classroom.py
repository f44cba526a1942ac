"""What a class's grades look like on the terminal and in the exports: student text
(ids, messages, file names) is shown as text, never as escapes, markup or formulas."""

import csv
import json
from pathlib import Path

from initlab import _text
from initlab.cli import main

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "graders" / "solutions" / "initialization"
INITIALIZATION = (SOLUTIONS / "initialization.py").read_text()
HE = "def initialize_parameters_he(layers_dims):\n"
# Rich markup that does not parse, a clear screen, a fake score and the clipboard set.
HOSTILE_MESSAGE = "[/] \\x1b[2J\\x1b[H100/100 \\x1b]52;c;ZWNobyBwd25lZA==\\x07[bold]done"


def raising(message: str) -> str:
    return INITIALIZATION.replace(HE, HE + f"    raise ValueError('{message}')\n")


def test_plain_strips_escapes_and_control_characters():
    shown = _text.plain("a\x1b[2J\x1b[31mb\x1b]52;c;eA==\x07c\x07\x08\x9b1md\u202ee\nf\tg")
    assert shown == "abcde f g", repr(shown)
    assert _text.plain("line\nbreak", one_line=False) == "line\nbreak"


def test_cells_a_spreadsheet_would_run_are_escaped():
    for formula in ("=HYPERLINK(1)", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", " =1"):
        escaped = _text.cell(formula)
        assert escaped.startswith("'"), (formula, escaped)
    assert _text.cell("alice") == "alice"


def test_student_text_is_shown_as_text_and_the_exports_are_written(tmp_path, capsys):
    """A message with markup and escapes, and a student id that is a formula: the
    summary prints, the exports are written, and neither holds an escape."""
    for student in ("=HYPERLINK(1)", "@alice"):
        folder = tmp_path / "class" / student
        folder.mkdir(parents=True)
        (folder / "initialization.py").write_text(raising(HOSTILE_MESSAGE))
    db, table, gradescope = tmp_path / "g.sqlite", tmp_path / "g.csv", tmp_path / "gs"
    args = ["grade", str(tmp_path / "class"), "--db", str(db), "--timeout", "3"]
    assert main([*args, "--csv", str(table), "--gradescope", str(gradescope)]) == 0
    shown = capsys.readouterr()
    assert "\x1b" not in shown.out + shown.err
    assert "100/100" in shown.out  # the message is there, as text
    with table.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert sorted(row["student_id"] for row in rows) == ["'=HYPERLINK(1)", "'@alice"]
    for student in ("=HYPERLINK(1)", "@alice"):
        results = (gradescope / student / "results.json").read_text()
        messages = [t["output"] for t in json.loads(results)["tests"]]
        assert any("[/]" in m for m in messages) and not any("\x1b" in m for m in messages)
        assert "\\u001b" not in results


def test_one_submission_with_escapes_in_its_messages_prints_them_as_text(tmp_path, capsys):
    file = tmp_path / "attack.py"
    file.write_text(raising(HOSTILE_MESSAGE))
    assert main(["grade", str(file)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "100/100" in out


def test_every_row_that_is_not_ok_says_why_and_results_json_always_lists_the_rubric():
    from initlab.classroom import reason_of
    from initlab.gradescope import results as gradescope_results
    from initlab.ledger import Result

    broken = {"name": "initialize_parameters_he", "score": 0.0, "max_score": 15.0,
              "status": "error", "diagnoses": ["timeout"],
              "message": "initialize_parameters_he did not finish in 10 s"}  # fmt: skip
    timed_out = Result("ann", "d", "v", False, "timeout", 85.0, 100.0, tests=[broken], seconds=11.4)
    assert "initialize_parameters_he did not finish in 10 s" in reason_of(timed_out)
    assert reason_of(Result("bo", "d", "v", False, "ok", 100.0, 100.0)) == ""
    assert gradescope_results(timed_out)["execution_time"] == 11.4
    empty = Result("cy", "d", "v", False, "invalid", 0.0, 30.0, reason="the folder is empty",
                   rubric="course")  # fmt: skip
    results = gradescope_results(empty)
    assert [t["name"] for t in results["tests"]] == [
        "initialize_parameters_zeros", "initialize_parameters_random", "initialize_parameters_he",
    ]  # fmt: skip
    assert {t["output"] for t in results["tests"]} == {"the folder is empty"}
    assert sum(t["max_score"] for t in results["tests"]) == 30


def test_a_reader_that_stops_early_gets_no_traceback():
    """`initlab grade ... | head -1`: the pipe closes before the report is printed."""
    import subprocess
    import sys

    solutions = Path(__file__).resolve().parents[1] / "graders" / "solutions" / "initialization"
    child = subprocess.Popen(
        [sys.executable, "-m", "initlab", "grade", str(solutions)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    child.stdout.close()  # before grading ends: every line it prints meets a closed pipe
    with child.stderr:
        error = child.stderr.read().decode()
    assert child.wait(timeout=120) == 0 and "Traceback" not in error, error
