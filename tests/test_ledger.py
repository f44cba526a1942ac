"""The SQLite ledger: what counts as done, whole results only, and other people's files left alone."""

import sqlite3

import pytest

from initlab.ledger import Ledger, LedgerError, Result

TESTS = [
    {
        "name": "f",
        "score": 1.0,
        "max_score": 1.0,
        "status": "passed",
        "diagnoses": [],
        "message": "correct",
        "source": "initialization.py",
    },
    {
        "name": "g",
        "score": 0.0,
        "max_score": 2.0,
        "status": "failed",
        "diagnoses": ["transposed"],
        "message": "W1 is transposed",
        "source": "Initialization.ipynb",
    },
]


def result(status="ok", student="alice", digest="d1", score=1.0):
    return Result(
        student, digest, "v1", False, status, score, 3.0, tests=TESTS if score is not None else []
    )


def test_a_recorded_result_reads_back_whole(tmp_path):
    ledger = Ledger(tmp_path / "grades.sqlite")
    ledger.record(result(), recorded_at=1.0)
    back = ledger.get(result().key)
    assert (back.status, back.score, back.tests) == ("ok", 1.0, TESTS)
    mode = ledger.connection.execute("PRAGMA journal_mode").fetchone()[0]
    synchronous = ledger.connection.execute("PRAGMA synchronous").fetchone()[0]
    assert (mode, synchronous) == ("wal", 2)  # 2 = FULL
    assert (tmp_path / "grades.sqlite").stat().st_mode & 0o077 == 0, "readable by others"


def test_infrastructure_failures_are_recorded_but_not_done(tmp_path):
    ledger = Ledger(tmp_path / "grades.sqlite")
    ledger.record(result("infrastructure", score=None), recorded_at=1.0)
    assert not ledger.is_done(result().key)
    ledger.record(result("crashed", score=None), recorded_at=2.0)
    assert ledger.is_done(result().key)
    assert ledger.get(result().key).status == "crashed"
    assert not ledger.is_done(result(digest="d2").key), "a changed submission is not done"


def test_a_failed_record_leaves_nothing_half_written(tmp_path):
    ledger = Ledger(tmp_path / "grades.sqlite")
    broken = result(student="bob")
    broken.tests = [*TESTS, {"name": "h"}]  # the third test row cannot be written
    with pytest.raises(KeyError):
        ledger.record(broken, recorded_at=1.0)
    assert ledger.get(broken.key) is None
    rows = ledger.connection.execute("SELECT COUNT(*) FROM tests").fetchone()[0]
    assert rows == 0


def test_results_survive_reopening(tmp_path):
    path = tmp_path / "grades.sqlite"
    ledger = Ledger(path)
    ledger.record(result(), recorded_at=1.0)
    ledger.close()
    assert Ledger(path).is_done(result().key)


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p.mkdir() or p, "is a folder"),
        (lambda p: p.write_text("not a database at all " * 50) and p, "file is not a database"),
        (lambda p: p.parent / "missing" / "grades.sqlite", "is not a folder"),
    ],
)
def test_an_unusable_file_is_a_one_line_error_and_stays_as_it_was(tmp_path, make, reason):
    path = make(tmp_path / "grades.sqlite")
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(LedgerError, match=reason):
        Ledger(path)
    if before is not None:
        assert path.read_bytes() == before


def test_another_programs_database_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE students (name TEXT)")
    connection.close()
    before = path.read_bytes()
    with pytest.raises(LedgerError, match="something else .tables: students"):
        Ledger(path)
    assert path.read_bytes() == before, "a refused database must be left exactly as it was"
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    connection.close()


def test_the_rubric_and_the_assignment_are_part_of_the_key(tmp_path):
    ledger = Ledger(tmp_path / "grades.sqlite")
    full = result()
    course = Result(*full.key[:4], "ok", 3.0, 3.0, tests=TESTS, rubric="course")
    ledger.record(full, recorded_at=1.0)
    assert ledger.is_done(full.key) and not ledger.is_done(course.key)
    ledger.record(course, recorded_at=2.0)
    assert ledger.get(full.key).score == 1.0 and ledger.get(course.key).score == 3.0
    assert ledger.get(course.key).rubric == "course"


SCHEMA_1 = """
CREATE TABLE initlab_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE submissions (
    id INTEGER PRIMARY KEY, student_id TEXT NOT NULL, digest TEXT NOT NULL,
    grader_version TEXT NOT NULL, hidden INTEGER NOT NULL, status TEXT NOT NULL,
    score REAL, max_score REAL, reason TEXT NOT NULL, sandbox TEXT NOT NULL,
    worker TEXT NOT NULL, started_at REAL NOT NULL, seconds REAL NOT NULL,
    recorded_at REAL NOT NULL, UNIQUE (student_id, digest, grader_version, hidden)
);
CREATE TABLE tests (
    submission INTEGER NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    position INTEGER NOT NULL, name TEXT NOT NULL, score REAL NOT NULL,
    max_score REAL NOT NULL, status TEXT NOT NULL, diagnoses TEXT NOT NULL,
    message TEXT NOT NULL, PRIMARY KEY (submission, position)
);
INSERT INTO initlab_meta VALUES ('schema', '1');
INSERT INTO submissions VALUES (7, 'bob', 'd9', 'v0', 0, 'ok', 25.0, 100.0, '', 's', 'w', 1.0, 2.0, 3.0);
INSERT INTO tests VALUES (7, 0, 'initialize_parameters_he', 15.0, 15.0, 'passed', '[]', 'correct');
"""


def test_a_ledger_of_schema_1_is_upgraded_with_every_result_kept(tmp_path):
    path = tmp_path / "old.sqlite"
    connection = sqlite3.connect(path)
    connection.executescript(SCHEMA_1)
    connection.close()
    ledger = Ledger(path)
    back = ledger.get(("bob", "d9", "v0", False, "initialization", "full"))
    assert (back.status, back.score, back.max_score) == ("ok", 25.0, 100.0)
    assert back.tests[0]["name"] == "initialize_parameters_he" and back.tests[0]["source"] == ""
    ledger.record(result(), recorded_at=4.0)  # and it takes new results
    ledger.close()
    assert Ledger(path).get(result().key).tests == TESTS
