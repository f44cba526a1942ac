"""The grades ledger of ``initlab grade DIR --db FILE``: one SQLite file, written only
by the command's own process, one transaction per finished submission.

A result is keyed by (student id, content hash, grader version, hidden checks,
assignment, rubric):
a rerun skips the keys that hold a final result and grades the rest. SQLite in
WAL mode with ``synchronous=FULL`` makes each committed result survive a crash
or a SIGKILL of the command, and a result is never half written: its row and
its per-test rows commit together or not at all.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from initlab.i18n import _

SCHEMA_VERSION = "2"
# A submission with one of these is done; "infrastructure" (the grader failed, not
# the student) is recorded too, but graded again by the next run.
FINAL_STATUSES = ("ok", "timeout", "error", "invalid", "crashed")
STATUSES = (*FINAL_STATUSES, "infrastructure")

SUBMISSIONS = """
CREATE TABLE {name} (
    id INTEGER PRIMARY KEY,
    student_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    grader_version TEXT NOT NULL,
    hidden INTEGER NOT NULL,
    assignment TEXT NOT NULL,
    rubric TEXT NOT NULL,
    status TEXT NOT NULL,
    score REAL,
    max_score REAL,
    reason TEXT NOT NULL,
    sandbox TEXT NOT NULL,
    worker TEXT NOT NULL,
    started_at REAL NOT NULL,
    seconds REAL NOT NULL,
    recorded_at REAL NOT NULL,
    UNIQUE (student_id, digest, grader_version, hidden, assignment, rubric)
);
"""
SCHEMA = (
    "CREATE TABLE initlab_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    + SUBMISSIONS.format(name="submissions")
    + """
CREATE TABLE tests (
    submission INTEGER NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    status TEXT NOT NULL,
    diagnoses TEXT NOT NULL,
    message TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (submission, position)
);
"""
)
# Schema 1 had no assignment, rubric or source: its results were the Initialization
# assignment's full rubric. Upgraded in one transaction, every row kept.
UPGRADE_FROM_1 = (
    SUBMISSIONS.format(name="submissions_2")
    + """
INSERT INTO submissions_2 SELECT id, student_id, digest, grader_version, hidden,
    'initialization', 'full', status, score, max_score, reason, sandbox, worker,
    started_at, seconds, recorded_at FROM submissions;
DROP TABLE submissions;
ALTER TABLE submissions_2 RENAME TO submissions;
ALTER TABLE tests ADD COLUMN source TEXT NOT NULL DEFAULT '';
UPDATE initlab_meta SET value = '2' WHERE key = 'schema';
"""
)
KEY = (
    "student_id = ? AND digest = ? AND grader_version = ? AND hidden = ? "
    "AND assignment = ? AND rubric = ?"
)


class LedgerError(Exception):
    """The ledger file cannot be used; the message is the one-line reason."""


@dataclass
class Result:
    """What grading one submission gave. score is None unless the student's code was
    graded (status ok, timeout or error) or could not be (invalid: 0)."""

    student_id: str
    digest: str
    grader_version: str
    hidden: bool
    status: str
    score: float | None = None
    max_score: float | None = None
    reason: str = ""
    sandbox: str = ""
    worker: str = ""
    started_at: float = 0.0
    seconds: float = 0.0
    tests: list[dict] = field(default_factory=list)  # initlab.checks.Verdict.to_json()
    assignment: str = "initialization"
    rubric: str = "full"

    @property
    def key(self) -> tuple[str, str, str, bool, str, str]:
        return (
            self.student_id, self.digest, self.grader_version, self.hidden,
            self.assignment, self.rubric,
        )  # fmt: skip


class Ledger:
    def __init__(self, path: Path):
        self.path = path
        if path.is_dir():
            raise LedgerError(_("{path} is a folder; --db needs a file").format(path=path))
        if not path.parent.is_dir():
            raise LedgerError(
                _("cannot create the ledger {path}: {folder} is not a folder").format(
                    path=path, folder=path.parent
                )
            )
        fresh = not path.exists()
        try:
            if fresh:
                # Grades are the students' data: readable by the instructor only.
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            self.connection = sqlite3.connect(path, isolation_level=None)
            try:
                # Recognised before anything is set: WAL mode stays in the file, and a
                # database of something else (an nbgrader gradebook) must stay as it was.
                self._check_or_create()
            except LedgerError:
                self.connection.close()
                raise
            self.connection.execute("PRAGMA journal_mode = WAL")
            self.connection.execute("PRAGMA synchronous = FULL")
            self.connection.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as error:
            raise LedgerError(
                _("cannot use {path} as a ledger: {error}").format(path=path, error=error)
            ) from None
        except OSError as error:
            raise LedgerError(
                _("cannot open the ledger {path}: {error}").format(path=path, error=error.strerror)
            ) from None

    @classmethod
    def reading(cls, path: Path) -> Ledger:
        """An existing ledger, to read: never made, upgraded or changed. It is copied into
        memory (a consistent snapshot, even while a batch is writing it), and one of schema
        1 is upgraded in the copy only."""
        if not path.exists():
            raise LedgerError(f"{path} does not exist")
        if not path.is_file():
            raise LedgerError(f"{path} is not a file")
        ledger = cls.__new__(cls)
        ledger.path = path
        try:
            disk = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            ledger.connection = sqlite3.connect(":memory:", isolation_level=None)
            try:
                disk.backup(ledger.connection)
            finally:
                disk.close()
            if ledger.connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
                raise LedgerError(f"{path} is not an initlab ledger (it is an empty database)")
            ledger._check_or_create()
        except sqlite3.Error as error:
            raise LedgerError(f"{path} is not an initlab ledger: {error}") from None
        except OSError as error:
            raise LedgerError(f"cannot read the ledger {path}: {error.strerror}") from None
        return ledger

    def keys(self) -> list[tuple[str, str, str, bool, str, str]]:
        """The key of every result held, in the order they were recorded (oldest first)."""
        return [
            (student, digest, version, bool(hidden), assignment, rubric)
            for student, digest, version, hidden, assignment, rubric in self.connection.execute(
                "SELECT student_id, digest, grader_version, hidden, assignment, rubric "
                "FROM submissions ORDER BY recorded_at, id"
            )
        ]

    def _check_or_create(self) -> None:
        tables = {
            name
            for (name,) in self.connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        }
        if not tables:
            self.connection.executescript(
                f"BEGIN IMMEDIATE; {SCHEMA} "
                f"INSERT INTO initlab_meta VALUES ('schema', '{SCHEMA_VERSION}'); COMMIT;"
            )
            return
        if "initlab_meta" not in tables:
            raise LedgerError(
                _(
                    "{path} is a SQLite database of something else (tables: {tables}); "
                    "choose another --db"
                ).format(path=self.path, tables=", ".join(sorted(tables)))
            )
        row = self.connection.execute(
            "SELECT value FROM initlab_meta WHERE key = 'schema'"
        ).fetchone()
        if row is not None and row[0] == "1":
            # foreign_keys is off here (it is set after this check), as the upgrade needs.
            self.connection.executescript(f"BEGIN IMMEDIATE; {UPGRADE_FROM_1} COMMIT;")
            return
        if row is None or row[0] != SCHEMA_VERSION:
            found = row[0] if row else "none"
            raise LedgerError(
                _("{path} is a ledger of schema {found}; this initlab writes schema {ours}").format(
                    path=self.path, found=found, ours=SCHEMA_VERSION
                )
            )

    def _transaction(self) -> _Transaction:
        return _Transaction(self.connection)

    def close(self) -> None:
        self.connection.close()

    def is_done(self, key: tuple) -> bool:
        placeholders = ", ".join("?" for _ in FINAL_STATUSES)
        row = self.connection.execute(
            f"SELECT 1 FROM submissions WHERE {KEY} AND status IN ({placeholders})",
            (*key, *FINAL_STATUSES),
        ).fetchone()
        return row is not None

    def record(self, result: Result, recorded_at: float) -> None:
        """Store result, replacing an earlier one of the same key, in one transaction."""
        if result.status not in STATUSES:
            raise ValueError(f"status {result.status!r}; expected one of {', '.join(STATUSES)}")
        with self._transaction():
            self.connection.execute(f"DELETE FROM submissions WHERE {KEY}", result.key)
            cursor = self.connection.execute(
                "INSERT INTO submissions (student_id, digest, grader_version, hidden, "
                "assignment, rubric, status, score, max_score, reason, sandbox, worker, "
                "started_at, seconds, recorded_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *result.key,
                    result.status,
                    result.score,
                    result.max_score,
                    result.reason,
                    result.sandbox,
                    result.worker,
                    result.started_at,
                    result.seconds,
                    recorded_at,
                ),
            )
            self.connection.executemany(
                "INSERT INTO tests (submission, position, name, score, max_score, status, "
                "diagnoses, message, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        cursor.lastrowid,
                        position,
                        test["name"],
                        test["score"],
                        test["max_score"],
                        test["status"],
                        json.dumps(test["diagnoses"]),
                        test["message"],
                        test.get("source", ""),
                    )
                    for position, test in enumerate(result.tests)
                ],
            )

    def get(self, key: tuple) -> Result | None:
        row = self.connection.execute(
            "SELECT id, status, score, max_score, reason, sandbox, worker, started_at, seconds "
            f"FROM submissions WHERE {KEY}",
            key,
        ).fetchone()
        if row is None:
            return None
        tests = [
            {
                "name": name,
                "score": score,
                "max_score": max_score,
                "status": status,
                "diagnoses": json.loads(diagnoses),
                "message": message,
                "source": source,
            }
            for name, score, max_score, status, diagnoses, message, source in (
                self.connection.execute(
                    "SELECT name, score, max_score, status, diagnoses, message, source FROM tests "
                    "WHERE submission = ? ORDER BY position",
                    (row[0],),
                )
            )
        ]
        return Result(
            *key[:3], bool(key[3]), *row[1:], tests=tests, assignment=key[4], rubric=key[5]
        )


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK when the block raises."""

    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection

    def __enter__(self) -> None:
        self.connection.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, error, trace) -> None:
        self.connection.execute("COMMIT" if kind is None else "ROLLBACK")
