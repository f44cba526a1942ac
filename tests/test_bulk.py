"""``initlab grade DIR --db``: a class with hostile submissions in it, crash and resume, exports.

Every hostile submission is the reference solution with one attack built in, so
the only points it can lose are those of what it attacked; the honest ones in
the same batch must get exactly what ``initlab grade`` gives each of them alone.
"""

import csv
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from initlab import sandbox
from initlab.assignments.initialization import RUBRICS
from initlab.bulk import LocalPool, Task, grade_directory, grade_task, read_task, unfinished
from initlab.cli import main
from initlab.grading import grade
from initlab.ledger import Ledger

pytestmark = pytest.mark.slow  # whole-pipeline runs: pytest -m 'not slow' skips them
ROOT = Path(__file__).resolve().parents[1]
RUBRIC = RUBRICS["full"]
SOLUTIONS = ROOT / "graders" / "solutions" / "initialization"
INITIALIZATION = (SOLUTIONS / "initialization.py").read_text()
PROPAGATION = (SOLUTIONS / "propagation.py").read_text()
HE = "def initialize_parameters_he(layers_dims):\n"
TIMEOUT = "2"


def he_first(body: str) -> str:
    """initialization.py whose He initializer runs body first."""
    assert HE in INITIALIZATION
    return INITIALIZATION.replace(HE, HE + "".join(f"    {line}\n" for line in body.splitlines()))


def at_import(code: str) -> str:
    return code + "\n" + INITIALIZATION


HE_NAME = "initialize_parameters_he"


def ends_while_loading(call: str) -> str:
    """initialization.py whose He initializer has a decorator that makes call."""
    decorator = f"import os\nimport sys\n\n\ndef bye(function):\n    {call}\n\n\n@bye\n"
    return INITIALIZATION.replace(HE, decorator + HE)


# name -> (initialization.py, the functions it attacks, the statuses it may end with)
HOSTILE = {
    "infinite_loop": (he_first("while True:\n    pass"), ["initialize_parameters_he"], {"timeout"}),
    "memory_bomb": (
        he_first("hog = bytearray(16 * 1024**3)"),
        ["initialize_parameters_he"],
        {"error"},
    ),
    "fork_bomb": (
        he_first("import os\nwhile True:\n    os.fork()"),
        ["initialize_parameters_he"],
        {"error", "timeout"},
    ),
    # Top-level code is not run; a decorator is, while the file loads: it costs its function.
    "sys_exit_while_loading": (ends_while_loading("sys.exit(0)"), [HE_NAME], {"error"}),
    "os_exit_while_loading": (ends_while_loading("os._exit(0)"), [HE_NAME], {"error"}),
    "base_exception": (
        he_first("class Escape(BaseException):\n    pass\nraise Escape()"),
        ["initialize_parameters_he"],
        {"error"},
    ),
    "keyboard_interrupt": (
        he_first("raise KeyboardInterrupt"),
        ["initialize_parameters_he"],
        {"error"},
    ),
    "patched_numpy": (
        at_import(
            "import numpy as np\n"
            "np.allclose = lambda *a, **k: True\n"
            "np.array_equal = lambda *a, **k: True\n"
            "np.testing.assert_allclose = lambda *a, **k: None\n"
            "try:\n"
            "    np.ndarray.__eq__ = lambda self, other: True\n"
            "except TypeError:\n"
            "    pass\n"
        ).replace(
            HE,
            HE
            + "    return {k: v * 0 for k, v in initialize_parameters_zeros(layers_dims).items()}\n",
        ),
        ["initialize_parameters_he"],
        {"ok"},
    ),
    "lying_subclass": (
        at_import(
            "import numpy as np\n"
            "class Liar(np.ndarray):\n"
            "    def __eq__(self, other):\n"
            "        return True\n"
        ).replace(
            HE,
            HE
            + "    return {k: np.zeros(v.shape).view(Liar) for k, v in initialize_parameters_xavier(layers_dims).items()}\n",
        ),
        ["initialize_parameters_he"],
        {"ok"},
    ),
    "always_equal": (
        at_import(
            "class Same:\n    shape = (1, 1)\n    def __eq__(self, other):\n        return True\n"
        ).replace(
            HE, HE + "    return {k: Same() for k in initialize_parameters_zeros(layers_dims)}\n"
        ),
        ["initialize_parameters_he"],
        {"ok"},
    ),
    "fake_output": (
        at_import(
            'print(\'{"score": 100, "max_score": 100, "tests": []}\')\n'
            "print('initialize_parameters_he passed\\n' * 1000)"
        ).replace(HE, HE + "    raise NotImplementedError()\n"),
        ["initialize_parameters_he"],
        {"ok"},
    ),
    "huge_print": (
        he_first(
            "import sys\nsys.stdout.write('initialize_parameters_he passed\\n' * (2**30 // 32))\nraise NotImplementedError()"
        ),
        ["initialize_parameters_he"],
        {"ok", "error"},
    ),
    # Correct only by copying what the sandbox hides: the solutions, or the ledger.
    "reads_graders": (
        he_first(
            f"source = open({str(SOLUTIONS / 'initialization.py')!r}).read()\n"
            "namespace = {}\n"
            "exec(source, namespace)\n"
            "return namespace['initialize_parameters_he'](layers_dims)"
        ),
        ["initialize_parameters_he"],
        {"error"},
    ),
    # Full marks by handing the work to the answer key, which the sandbox does not hold.
    "delegates_to_the_grader": (
        he_first(
            "from initlab import reference\n"
            "return reference.initialize_parameters_he(layers_dims)"
        ),
        ["initialize_parameters_he"],
        {"error"},
    ),
    "reads_ledger": (
        he_first("open(LEDGER, 'rb').read()"),
        ["initialize_parameters_he"],
        {"error"},
    ),
    "network": (
        he_first("import socket\nsocket.create_connection(('127.0.0.1', PORT), timeout=2).close()"),
        ["initialize_parameters_he"],
        {"error"},
    ),
    "kills_parent": (
        he_first("import os\nos.kill(os.getppid(), 9)"),
        ["initialize_parameters_he"],
        {"error"},
    ),
    # Wrong, and counting on the grader or a later run importing what it leaves behind.
    "writes_conftest_and_sitecustomize": (
        he_first(
            "import os\n"
            "here = os.path.dirname(os.path.abspath(__file__))\n"
            "for name in ('conftest.py', 'sitecustomize.py', 'usercustomize.py'):\n"
            "    try:\n"
            "        with open(os.path.join(here, name), 'w') as file:\n"
            "            file.write('import numpy\\nnumpy.allclose = lambda *a, **k: True\\n')\n"
            "    except OSError:\n"
            "        pass\n"
            "return initialize_parameters_zeros(layers_dims)"
        ),
        ["initialize_parameters_he"],
        {"ok"},
    ),
}
MISTAKE = INITIALIZATION.replace("np.sqrt(\n            2.0", "np.sqrt(\n            1.0", 1)
HONEST = {
    "honest_1": INITIALIZATION,
    "honest_2": INITIALIZATION,
    "honest_xavier_in_he": MISTAKE,
    "honest_stub": (ROOT / "assignment" / "initialization" / "initialization.py").read_text(),
}


def make_class(folder: Path, ledger: Path, port: int) -> Path:
    assert MISTAKE != INITIALIZATION
    for name, source in {**{k: v[0] for k, v in HOSTILE.items()}, **HONEST}.items():
        student = folder / name
        student.mkdir(parents=True)
        source = source.replace("LEDGER", repr(str(ledger))).replace("PORT", str(port))
        (student / "initialization.py").write_text(source)
        (student / "propagation.py").write_text(PROPAGATION)
    return folder


def ledger_rows(db: Path) -> dict[str, dict]:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = {}
    for rowid, student, status, score, reason in connection.execute(
        "SELECT id, student_id, status, score, reason FROM submissions"
    ):
        tests = {
            name: (test_score, test_status, json.loads(diagnoses))
            for name, test_score, test_status, diagnoses in connection.execute(
                "SELECT name, score, status, diagnoses FROM tests WHERE submission = ?", (rowid,)
            )
        }
        rows[student] = {"status": status, "score": score, "reason": reason, "tests": tests}
    connection.close()
    return rows


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """The class graded once with two workers, a real service listening on 127.0.0.1."""
    current = sandbox.current()
    if current.mode != "bwrap" or (os.geteuid() == 0 and current.uid is None):
        pytest.fail(
            f"the hostile corpus needs the full sandbox; this machine has {current.description}"
        )
    folder = tmp_path_factory.mktemp("class")
    db = folder / "grades.sqlite"
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        make_class(folder / "submissions", db, server.getsockname()[1])
        args = ["grade", str(folder / "submissions"), "--db", str(db), "--workers", "2"]
        args += ["--timeout", TIMEOUT, "--memory", "1024"]
        args += ["--csv", str(folder / "grades.csv"), "--gradescope", str(folder / "gradescope")]
        code = main(args)
    return folder, db, code


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_each_hostile_submission_is_recorded_with_zero_for_its_attack(graded_class, name):
    _, db, _ = graded_class
    _, attacked, statuses = HOSTILE[name]
    row = ledger_rows(db)[name]
    assert row["status"] in statuses, row
    for function in attacked:
        assert row["tests"][function][0] == 0, (function, row["tests"][function])
    # The attack costs nothing else: the other functions are the solution's.
    for function in set(RUBRIC) - set(attacked) - {"initialize_parameters_he"}:
        assert row["tests"][function][1] == "passed", (function, row["tests"][function])


def test_a_submission_that_delegates_to_the_grader_is_diagnosed_uses_grader(graded_class):
    _, db, _ = graded_class
    row = ledger_rows(db)["delegates_to_the_grader"]
    assert row["tests"]["initialize_parameters_he"] == (0, "error", ["uses_grader"]), row


@pytest.mark.parametrize("name", sorted(HONEST))
def test_honest_submissions_get_what_they_get_alone(graded_class, name):
    folder, db, _ = graded_class
    alone = grade(folder / "submissions" / name)
    row = ledger_rows(db)[name]
    assert row["score"] == alone.score
    assert row["tests"] == {
        t.name: (t.score, t.status, [d.code for d in t.diagnoses]) for t in alone.tests
    }


def test_the_batch_ends_with_every_submission_graded(graded_class):
    folder, db, code = graded_class
    rows = ledger_rows(db)
    assert code == 0
    assert set(rows) == set(HOSTILE) | set(HONEST)
    assert {row["status"] for row in rows.values()} <= {"ok", "error", "timeout"}
    propagation = sum(v for k, v in RUBRIC.items() if not k.startswith("initialize"))
    assert rows["honest_1"]["score"] == 100 and rows["honest_stub"]["score"] == propagation
    assert all(len(row["tests"]) == len(RUBRIC) for row in rows.values())


def test_the_exports_match_the_ledger(graded_class):
    folder, db, _ = graded_class
    rows = ledger_rows(db)
    with (folder / "grades.csv").open() as file:
        table = list(csv.DictReader(file))
    assert [line["student_id"] for line in table] == sorted(rows)
    for line in table:
        row = rows[line["student_id"]]
        assert (line["status"], float(line["score"])) == (row["status"], row["score"])
        for function in RUBRIC:
            assert float(line[function]) == row["tests"][function][0]
    for student, row in rows.items():
        results = json.loads((folder / "gradescope" / student / "results.json").read_text())
        assert results["score"] == row["score"]
        assert {t["name"]: t["score"] for t in results["tests"]} == {
            k: v[0] for k, v in row["tests"].items()
        }
        assert all(
            t["status"] == ("passed" if row["tests"][t["name"]][1] == "passed" else "failed")
            for t in results["tests"]
        )


def test_a_rerun_grades_only_what_changed_and_never_replaces_an_export(graded_class, capsys):
    folder, db, _ = graded_class
    before = ledger_rows(db)
    (folder / "submissions" / "honest_2" / "initialization.py").write_text(MISTAKE)
    args = ["grade", str(folder / "submissions"), "--db", str(db), "--timeout", TIMEOUT]
    assert main([*args, "--csv", str(folder / "grades.csv")]) == 2
    assert "exists; add --overwrite" in capsys.readouterr().err
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"1 graded now, {len(before) - 1} already in the ledger" in out
    after = ledger_rows(db)
    assert after["honest_2"]["score"] < before["honest_2"]["score"] == 100
    assert {k: v for k, v in after.items() if k != "honest_2"} == {
        k: v for k, v in before.items() if k != "honest_2"
    }


def write_honest_class(folder: Path, count: int) -> None:
    """count submissions, every fourth one with Xavier's scale in He."""
    for i in range(count):
        student = folder / f"student{i:02d}"
        student.mkdir(parents=True)
        (student / "initialization.py").write_text(MISTAKE if i % 4 == 3 else INITIALIZATION)
        (student / "propagation.py").write_text(PROPAGATION)


def scores(db: Path) -> dict[str, tuple]:
    return {k: (v["status"], v["score"], v["tests"]) for k, v in ledger_rows(db).items()}


def test_sigkill_midway_then_rerun_equals_an_uninterrupted_run(tmp_path):
    submissions = tmp_path / "submissions"
    write_honest_class(submissions, 8)
    command = [sys.executable, "-m", "initlab", "grade", str(submissions)]
    whole_db = tmp_path / "whole.sqlite"
    subprocess.run(
        [*command, "--db", str(whole_db), "--workers", "2"], check=True, capture_output=True
    )
    whole = scores(whole_db)
    assert len(whole) == 8 and whole["student03"][1] < whole["student00"][1] == 100

    db = tmp_path / "killed.sqlite"
    command += ["--db", str(db), "--workers", "1"]
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120  # a guard against a hang, not a speed check
    while time.monotonic() < deadline and driver.poll() is None and len(_count(db)) < 2:
        time.sleep(0.01)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    partial = scores(db)
    assert 2 <= len(partial) < 8, f"killed after {len(partial)} of 8"
    for student, graded in partial.items():
        assert graded == whole[student], "a result recorded before the kill differs"
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    assert f"{8 - len(partial)} graded now, {len(partial)} already in the ledger" in done.stdout
    assert scores(db) == whole


def _count(db: Path) -> list:
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return connection.execute("SELECT student_id FROM submissions").fetchall()
        finally:
            connection.close()
    except sqlite3.Error:  # not created yet
        return []


def test_a_submission_whose_grading_process_dies_twice_is_recorded_as_crashed(tmp_path):
    """The grading process (not the student's) is killed twice while it grades one
    submission: that one ends "crashed", without a score, and the next is graded."""
    folder = tmp_path / "slow"
    folder.mkdir()
    (folder / "initialization.py").write_text(he_first("import time\ntime.sleep(30)"))
    slow = read_task("slow", folder, timeout=60.0)
    pool = LocalPool(1)
    results = pool.map([slow])
    killed = set()

    def kill_new_workers():
        while len(killed) < 2:
            for process in list(pool.processes):
                if process.pid not in killed:
                    killed.add(process.pid)
                    os.kill(process.pid, signal.SIGKILL)
            time.sleep(0.01)

    killer = threading.Thread(target=kill_new_workers)
    killer.start()
    (result,) = list(results)
    killer.join()
    pool.close()
    assert (result.status, result.score) == ("crashed", None)
    assert "died 2 times" in result.reason
    honest = tmp_path / "honest"
    honest.mkdir()
    (honest / "initialization.py").write_text(INITIALIZATION)
    pool = LocalPool(1)
    (graded,) = list(pool.map([read_task("honest", honest)]))
    pool.close()
    assert (graded.status, graded.score) == ("ok", 45)


@pytest.mark.parametrize(
    "args, message",
    [
        (["MISSING", "--db", "DB"], "MISSING does not exist"),
        (["EMPTY", "--db", "DB"], "holds no submissions"),
        (["CLASS", "--db", "BADDB"], "cannot use"),
        (
            ["CLASS", "--db", "DB", "--scheduler", "tcp://127.0.0.1:9"],
            "cannot reach the Dask scheduler at tcp://127.0.0.1:9: ",
        ),
        (["CLASS", "--csv", "x.csv"], "--csv needs --db"),
        (["CLASS", "--db", "DB", "--json"], "--json grades one submission"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    (tmp_path / "EMPTY").mkdir()
    (tmp_path / "CLASS" / "alice").mkdir(parents=True)
    (tmp_path / "BADDB").write_text("this is someone's notes, not a database\n" * 20)
    paths = {"MISSING", "EMPTY", "CLASS", "DB", "BADDB"}
    argv = ["grade", *[str(tmp_path / a) if a in paths else a for a in args]]
    message = message.replace("MISSING", str(tmp_path / "MISSING"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("initlab grade: ") and message in err and err.count("\n") == 1, err
    assert (tmp_path / "BADDB").read_text().startswith("this is someone's notes")


def test_nbgrader_layout_is_accepted(tmp_path, capsys):
    notebook = {
        "cells": [{"cell_type": "code", "source": INITIALIZATION + "\n" + PROPAGATION}],
        "nbformat": 4,
    }
    for student in ("ann", "ben"):
        folder = tmp_path / "course" / "submitted" / student / "initialization"
        folder.mkdir(parents=True)
        (folder / "Initialization.ipynb").write_text(json.dumps(notebook))
        (folder / "timestamp.txt").write_text("2026-11-23 10:00:00")
    (tmp_path / "course" / "nbgrader_config.py").write_text("c = get_config()\n")
    assert main(["grade", str(tmp_path / "course"), "--db", str(tmp_path / "db.sqlite")]) == 0
    rows = ledger_rows(tmp_path / "db.sqlite")
    assert {k: v["score"] for k, v in rows.items()} == {"ann": 100, "ben": 100}


def test_a_task_travels_as_json_unchanged():
    task = Task("alice", "abc", {"initialization.py": b"\x00\xffbytes"}, hidden=True, timeout=3.0)
    assert Task.from_json(json.loads(json.dumps(task.to_json()))) == task


class FlakyPool:
    """Grades in this process, except that the machine fails on the students named."""

    description = "a pool whose machine fails"

    def __init__(self, failing: set[str]):
        self.failing = failing

    def map(self, tasks):
        for task in tasks:
            if task.student_id in self.failing:
                yield unfinished(task, "infrastructure", "the machine failed")
            else:
                yield grade_task(task)

    def close(self):
        pass


def test_an_infrastructure_failure_is_no_grade_and_is_graded_again(tmp_path):
    for student in ("ann", "ben"):
        (tmp_path / student).mkdir()
        (tmp_path / student / "initialization.py").write_text(INITIALIZATION)
    tasks = [read_task(student, tmp_path / student) for student in ("ann", "ben")]
    ledger = Ledger(tmp_path / "grades.sqlite")
    first = grade_directory(tasks, ledger, FlakyPool({"ann"}))
    ann, ben = (first.results[task.key] for task in tasks)
    assert (ann.status, ann.score, ann.tests) == ("infrastructure", None, [])
    assert (ben.status, ben.score) == ("ok", 45)
    second = grade_directory(tasks, ledger, FlakyPool(set()))
    assert second.graded_now == 1
    assert second.results[tasks[0].key].score == 45


def test_a_submission_too_large_is_refused_before_it_is_read(tmp_path):
    """A file past the size cap is never read into memory: the submission is invalid,
    with the reason, and the next run does not grade it again."""
    from initlab.bulk import MAX_BYTES

    folder = tmp_path / "erin"
    folder.mkdir()
    (folder / "initialization.py").write_text(INITIALIZATION)
    with open(folder / "weights.bin", "wb") as sparse:
        sparse.truncate(MAX_BYTES + 1)
    task = read_task("erin", folder)
    assert "more than" in task.problem and f"{MAX_BYTES} bytes" in task.problem
    assert sum(len(data) for data in task.files.values()) <= MAX_BYTES
    assert grade_task(task).status == "invalid"


def test_names_that_are_not_utf8_are_named_not_a_traceback(tmp_path, capsys):
    folder = tmp_path / "carl"
    folder.mkdir()
    (folder / "initialization.py").write_text(INITIALIZATION)
    (folder / os.fsdecode(b"r\xe9sum\xe9.txt")).write_text("cv")
    task = read_task("carl", folder)
    assert "is not UTF-8" in task.problem
    assert grade_task(task).status == "invalid"
    (tmp_path / os.fsdecode(b"j\xe9r\xf4me")).mkdir()
    assert main(["grade", str(tmp_path), "--db", str(tmp_path / "g.sqlite")]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("initlab grade:")
        and "not a UTF-8 name" in err
        and len(err.splitlines()) == 1
    )


def test_an_unreadable_file_stops_the_batch_instead_of_giving_a_zero(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "dana"
    folder.mkdir()
    (folder / "initialization.py").write_text(INITIALIZATION)
    real = Path.read_bytes

    def denied(path):
        if path.name == "initialization.py":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(Path, "read_bytes", denied)
    db = tmp_path / "g.sqlite"
    assert main(["grade", str(tmp_path), "--db", str(db)]) == 2
    assert "cannot read" in capsys.readouterr().err
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 0
    connection.close()


def test_a_grading_process_that_cannot_start_is_infrastructure_not_crashed(tmp_path, monkeypatch):
    folder = tmp_path / "dana"
    folder.mkdir()
    (folder / "initialization.py").write_text(INITIALIZATION)
    pool = LocalPool(1)

    def cannot_start():
        raise PermissionError(13, "Permission denied: the interpreter")

    monkeypatch.setattr(pool, "_start", cannot_start)
    [result] = list(pool.map([read_task("dana", folder)]))
    pool.close()
    assert result.status == "infrastructure" and "could not run" in result.reason


def test_csv_onto_the_ledger_is_refused_and_loose_files_are_named(tmp_path, capsys):
    folder = tmp_path / "class" / "bob"
    folder.mkdir(parents=True)
    (folder / "initialization.py").write_text(INITIALIZATION)
    (tmp_path / "class" / "alice.py").write_text(INITIALIZATION)
    db = tmp_path / "g.sqlite"
    args = ["grade", str(tmp_path / "class"), "--db", str(db), "--timeout", TIMEOUT]
    assert main([*args, "--csv", str(db), "--overwrite"]) == 2
    assert "is the ledger itself" in capsys.readouterr().err
    assert main(args) == 0
    assert f"skipped {tmp_path / 'class' / 'alice.py'}" in capsys.readouterr().err


def test_a_grading_process_that_answers_garbage_is_infrastructure(tmp_path, monkeypatch):
    import initlab.bulk

    folder = tmp_path / "dana"
    folder.mkdir()
    (folder / "initialization.py").write_text(INITIALIZATION)
    monkeypatch.setattr(initlab.bulk, "_exchange", lambda worker, line: "{truncated")
    pool = LocalPool(1)
    [result] = list(pool.map([read_task("dana", folder)]))
    pool.close()
    assert result.status == "infrastructure" and "garbage" in result.reason


def test_a_student_folder_named_submitted_cannot_replace_the_class(tmp_path, capsys):
    """Only an nbgrader course (nbgrader_config.py, gradebook.db or source/) has its
    submissions in submitted/; elsewhere that folder is a student's, and the layout is
    ambiguous: a one-line error, nobody graded as someone else."""
    for student in ("alice", "bob", "submitted/alice", "submitted/bob"):
        (tmp_path / "class" / student).mkdir(parents=True)
        (tmp_path / "class" / student / "initialization.py").write_text(INITIALIZATION)
    db = tmp_path / "g.sqlite"
    assert main(["grade", str(tmp_path / "class"), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("initlab grade: ") and err.count("\n") == 1, err
    assert "not an nbgrader course" in err
    assert not db.exists() or ledger_rows(db) == {}


def _descendants(pid: int) -> set[int]:
    """The processes whose chain of parents leads to pid."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_kill_9_of_the_command_ends_its_grading_processes_and_their_folders_go(tmp_path):
    """The grading processes (and the sandboxes under them) die with the command, not
    after their submission; the log folder it leaves is swept by the next batch."""
    for student in ("ann", "ben"):
        (tmp_path / "class" / student).mkdir(parents=True)
        (tmp_path / "class" / student / "initialization.py").write_text(
            he_first("while True:\n    pass")
        )
    command = [sys.executable, "-m", "initlab", "grade", str(tmp_path / "class")]
    command += ["--db", str(tmp_path / "g.sqlite"), "--workers", "2", "--timeout", "60"]
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60  # a guard against a hang, not a speed check
    workers: set[int] = set()
    while time.monotonic() < deadline and len(workers) < 4:  # 2 workers, their sandboxes
        time.sleep(0.2)
        workers = _descendants(driver.pid)
    assert len(workers) >= 4, workers
    logs = list(Path(sandbox.SCRATCH or "/tmp").glob(f"initlab-workers-{driver.pid}-*"))
    assert len(logs) == 1, logs
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(map(_alive, workers)):
        time.sleep(0.1)
    assert not any(map(_alive, workers)), [p for p in workers if _alive(p)]
    sandbox.sweep_scratch()
    assert not logs[0].exists()


def test_the_grading_copy_of_a_submission_is_private_to_the_grader(tmp_path, monkeypatch):
    """Under bubblewrap the sandbox gets the files as bytes: no other local user can
    read the copy while it is graded."""
    import initlab.bulk

    assert sandbox.current().mode == "bwrap"
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "initialization.py").write_text(INITIALIZATION)
    seen = {}

    def inspect(folder, *args):
        for path in [folder, *folder.parents[:1], *folder.rglob("*")]:
            seen[path.name] = path.stat().st_mode & 0o077
        return grade(folder, *args)

    monkeypatch.setattr(initlab.bulk, "grade", inspect)
    result = grade_task(read_task("ann", tmp_path / "ann"))
    assert result.score == 45
    assert seen and all(mode == 0 for mode in seen.values()), {k: oct(v) for k, v in seen.items()}
