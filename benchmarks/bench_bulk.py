"""Throughput of ``initlab grade DIR --db`` against ``nbgrader autograde``, in one run.

N generated submissions (correct ones and four kinds of mistakes, as
``initialization.py`` + ``propagation.py`` folders) are graded four ways, each
timed from the command's start to its end:

1. ``initlab grade DIR --db FILE --workers 1``;
2. the same with ``--workers 2``;
3. the same with ``--scheduler`` on a local Dask cluster (a scheduler and two
   one-thread workers started before the clock starts);
4. ``nbgrader autograde`` of a course holding the same submissions as notebooks:
   the student's code in the answer cell and one autograded test cell per
   function, which calls the same checks (``initlab.checks``) on the same inputs
   as ``initlab grade``, in the notebook's kernel (nbgrader's way: no sandbox).

The three ``initlab`` ledgers must agree score for score; nbgrader's cells are
all-or-nothing, so only the submissions with full marks are compared with it.

    python benchmarks/bench_bulk.py [--submissions 60] [--skip-nbgrader]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "graders" / "solutions" / "initialization"
STUBS = ROOT / "assignment" / "initialization"
INITIALIZATION = (SOLUTIONS / "initialization.py").read_text()
PROPAGATION = (SOLUTIONS / "propagation.py").read_text()
# (name, file, wrong, right): one mistake each; every other submission is correct.
HE_SCALE = "np.sqrt(\n            2.0"
MISTAKES = [
    ("xavier scale in He", "initialization", HE_SCALE, HE_SCALE.replace("2.0", "1.0")),
    ("ReLU derivative", "propagation", "np.int64(A_prev > 0)", "1"),
    ("no 1/m in dW", "propagation", "1.0 / m * np.nansum", "np.nansum"),
    ("stub", "initialization", "", ""),
]
HELPER = '''import warnings as _warnings

import numpy as _np
from initlab import reference as _reference
from initlab.assignments import initialization as _grading
from initlab.checks import initializers as _initializers, propagation as _propagation


def _copy(arrays):
    return {key: value.copy() for key, value in arrays.items()}


def _check(name):
    """The checks of initlab grade, on the same inputs, in this kernel. Quietly: nbgrader
    fails a test cell that writes to stderr, and log(0) in a saturated loss warns."""
    with _np.errstate(all="ignore"), _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        verdict = _judge(name, _grading.RUBRICS["full"][name], globals()[name])
    assert verdict.status == "passed", verdict.message


def _judge(name, points, function):
    if name.startswith("initialize"):
        dims = _grading.INITIALIZER_DIMS + [_grading.MEASURED_DIMS]
        calls = [(d, function(d)) for d in dims]
        verdict = _initializers.check_initializer(name, calls, max_score=points)
        problem = verdict.status == "passed" and _initializers.check_training(name, calls[0][1])
        assert not problem, problem and problem.message
        return verdict
    problems = _grading.propagation_problems(False, None)
    if name == "forward_propagation":
        calls = [(p.X, p.parameters, function(p.X.copy(), _copy(p.parameters))) for p in problems]
        return _propagation.check_forward(calls, points)
    if name == "compute_loss":
        calls = [(p.AL, p.Y, function(p.AL.copy(), p.Y.copy())) for p in problems]
        return _propagation.check_loss(calls, points)
    if name == "backward_propagation":
        calls = []
        for p in problems:
            cache = _reference.layer_caches(p.X, p.parameters)
            calls.append((p.X, p.Y, p.parameters, function(p.X.copy(), p.Y.copy(), cache)))
        return _propagation.check_backward(calls, points)
    rate = _grading.LEARNING_RATE
    calls = [
        (p.parameters, p.grads, rate, function(_copy(p.parameters), _copy(p.grads), rate))
        for p in problems
    ]
    return _propagation.check_update(calls, points)
'''


def submissions(folder: Path, count: int) -> dict[str, dict[str, str]]:
    """count students, every second one with one of the mistakes, in turn."""
    made = {}
    for i in range(count):
        files = {"initialization": INITIALIZATION, "propagation": PROPAGATION}
        if i % 2 == 1:
            _, module, right, wrong = MISTAKES[(i // 2) % len(MISTAKES)]
            if right:
                assert right in files[module]
                files[module] = files[module].replace(right, wrong, 1)
            else:
                files[module] = (STUBS / f"{module}.py").read_text()
        student = folder / f"student{i:03d}"
        student.mkdir(parents=True)
        for module, source in files.items():
            (student / f"{module}.py").write_text(source)
        made[student.name] = files
    return made


def timed(command: list[str], **kwargs) -> float:
    start = time.perf_counter()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    subprocess.run(command, check=True, **{**quiet, **kwargs})
    return time.perf_counter() - start


def ledger_scores(db: Path) -> dict[str, float]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT student_id, score FROM submissions").fetchall()
    connection.close()
    return dict(rows)


def start_dask(work: Path, workers: int) -> tuple[str, list[subprocess.Popen]]:
    env = {
        **os.environ,
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
        # The worker's statistical profiler samples every thread's stack every 10 ms.
        "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
        "INITLAB_NUM_THREADS": "1",
    }
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    file = work / "scheduler.json"
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1"]
            + ["--port", "0", "--no-dashboard", "--scheduler-file", str(file)],
            **quiet,
        )
    ]
    while not (file.exists() and file.stat().st_size):
        time.sleep(0.05)
    address = json.loads(file.read_text())["address"]
    for i in range(workers):
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1"]
                + ["--name", f"w{i}", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"],
                **quiet,
            )
        )
    from distributed import Client

    with Client(address) as client:
        client.wait_for_workers(workers, timeout=120)
    return address, processes


def nbgrader_course(course: Path, students: dict[str, dict[str, str]]) -> None:
    """A course with assignment ps1 released and every student's notebook submitted."""
    from initlab.assignments.initialization import RUBRICS

    RUBRIC = RUBRICS["full"]

    def cell(source: str, grade_id: str, **flags) -> dict:
        metadata = {"grade": False, "locked": True, "solution": False, "task": False}
        metadata.update(flags, grade_id=grade_id, schema_version=3)
        return {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {"nbgrader": metadata},
            "outputs": [],
            "source": source,
        }

    solution = INITIALIZATION + "\n" + PROPAGATION  # marked ### BEGIN / END SOLUTION already
    cells = [
        cell(solution, "answer", solution=True, locked=False),
        cell(HELPER, "checks"),
        *[
            cell(f"_check({name!r})", f"test_{name}", grade=True, points=points)
            for name, points in RUBRIC.items()
        ],
    ]
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (course / "source" / "ps1").mkdir(parents=True)
    (course / "source" / "ps1" / "Initialization.ipynb").write_text(json.dumps(notebook))
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        "c.CourseDirectory.course_id = 'initlab'\n"
        "c.ExecutePreprocessor.timeout = 120\n"
    )
    nbgrader(course, "generate_assignment", "ps1", "--force")
    released = json.loads((course / "release" / "ps1" / "Initialization.ipynb").read_text())
    for student, files in students.items():
        released["cells"][0]["source"] = files["initialization"] + "\n" + files["propagation"]
        target = course / "submitted" / student / "ps1"
        target.mkdir(parents=True)
        (target / "Initialization.ipynb").write_text(json.dumps(released))
        (target / "timestamp.txt").write_text("2026-11-23 12:00:00.000000 UTC")


def nbgrader(course: Path, *args: str) -> None:
    subprocess.run(
        [shutil.which("nbgrader") or "nbgrader", *args],
        cwd=course,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def nbgrader_full_marks(course: Path) -> set[str]:
    """Students whose every autograded test cell passed, from nbgrader's gradebook."""
    with sqlite3.connect(course / "gradebook.db") as connection:
        rows = connection.execute(
            "SELECT submitted_assignment.student_id, SUM(grade.auto_score), "
            "SUM(grade_cells.max_score) FROM grade "
            "JOIN grade_cells ON grade.cell_id = grade_cells.id "
            "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = "
            "submitted_assignment.id GROUP BY submitted_assignment.student_id"
        ).fetchall()
    connection.close()
    return {student for student, score, maximum in rows if score == maximum}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=60, metavar="N")
    parser.add_argument("--skip-nbgrader", action="store_true")
    args = parser.parse_args()
    initlab = shutil.which("initlab") or sys.exit("initlab is not installed: pip install .")
    rows = []
    with tempfile.TemporaryDirectory(prefix="initlab-bench-") as temporary:
        work = Path(temporary)
        students = submissions(work / "class", args.submissions)
        grade = [initlab, "grade", str(work / "class")]
        scores = {}
        for workers in (1, 2):
            db = work / f"workers{workers}.sqlite"
            seconds = timed([*grade, "--db", str(db), "--workers", str(workers)])
            rows.append((f"initlab --workers {workers}", seconds))
            scores[rows[-1][0]] = ledger_scores(db)
        address, cluster = start_dask(work, 2)
        try:
            db = work / "dask.sqlite"
            seconds = timed([*grade, "--db", str(db), "--scheduler", address])
            rows.append(("initlab --scheduler (Dask, 2 workers)", seconds))
            scores[rows[-1][0]] = ledger_scores(db)
        finally:
            for process in cluster:
                process.kill()
                process.wait()
        first = next(iter(scores.values()))
        assert all(s == first for s in scores.values()), "the three ledgers differ"
        full = {student for student, score in first.items() if score == 100}
        if not args.skip_nbgrader:
            course = work / "course"
            nbgrader_course(course, students)
            seconds = timed(
                [shutil.which("nbgrader") or "nbgrader", "autograde", "ps1", "--create"],
                cwd=course,
            )
            rows.append(("nbgrader autograde", seconds))
            agreed = nbgrader_full_marks(course) == full
    n = args.submissions
    print(f"{n} submissions ({len(full)} with full marks), {os.cpu_count()} CPUs")
    print(f"{'grader':<40}{'seconds':>9}{'per minute':>12}{'x nbgrader':>12}")
    baseline = rows[-1][1] if not args.skip_nbgrader else None
    for name, seconds in rows:
        ratio = f"{baseline / seconds:>11.1f}x" if baseline else f"{'-':>12}"
        print(f"{name:<40}{seconds:>9.2f}{n / seconds * 60:>12.0f}{ratio}")
    print(f"scaling, 2 workers over 1: {rows[0][1] / rows[1][1]:.2f}x")
    print("the three initlab ledgers agree score for score")
    if not args.skip_nbgrader:
        print(f"nbgrader gives full marks to the same submissions: {'yes' if agreed else 'NO'}")


if __name__ == "__main__":
    main()
