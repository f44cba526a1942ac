"""``initlab grade DIR --db --scheduler``: a real Dask scheduler and workers on 127.0.0.1.

A worker is SIGKILLed while it grades: its submission is graded by another
worker and every student still gets the grade ``initlab grade`` gives alone.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from initlab.bulk import read_task
from initlab.grading import grade

distributed = pytest.importorskip(
    "distributed", reason="Dask distributed is not installed (pip install 'initlab[cluster]')"
)

pytestmark = pytest.mark.slow  # whole-pipeline runs: pytest -m 'not slow' skips them
ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "graders" / "solutions" / "initialization"
HE = "def initialize_parameters_he(layers_dims):\n"
GUARD = 120  # seconds before a wait gives up: a guard against a hang, not a speed check


def wait_for(condition, what):
    deadline = time.monotonic() + GUARD
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what} after {GUARD} s")
        time.sleep(0.02)


@pytest.fixture
def cluster(tmp_path, request):
    """A scheduler that gives up on a task after it killed two workers, and its workers
    (a and b, or the names the test asks for)."""
    env = {
        **os.environ,
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
        "INITLAB_NUM_THREADS": "1",
    }
    file = tmp_path / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1"]
            + ["--port", "0", "--no-dashboard", "--scheduler-file", str(file)],
            **quiet,
        )
    ]
    try:
        wait_for(lambda: file.exists() and file.stat().st_size > 0, "the scheduler")
        address = json.loads(file.read_text())["address"]
        workers = {}
        for name in getattr(request, "param", ("a", "b")):
            workers[name] = subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--name", name]
                + ["--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"],
                **quiet,
            )
            processes.append(workers[name])
        yield address, workers
    finally:
        for process in reversed(processes):
            process.kill()
            process.wait()


def test_a_worker_killed_mid_batch_loses_no_grade(tmp_path, cluster):
    address, workers = cluster
    solution = (SOLUTIONS / "initialization.py").read_text()
    slow = solution.replace(HE, HE + "    import time\n    time.sleep(0.25)\n")
    mistake = solution.replace("np.sqrt(\n            2.0", "np.sqrt(\n            1.0", 1)
    assert mistake != solution
    submissions = tmp_path / "submissions"
    for i in range(6):
        student = submissions / f"student{i}"
        student.mkdir(parents=True)
        (student / "initialization.py").write_text(mistake if i % 4 == 3 else slow)
        (student / "propagation.py").write_text((SOLUTIONS / "propagation.py").read_text())
    db = tmp_path / "grades.sqlite"
    client = distributed.Client(address, timeout=30)
    try:
        client.wait_for_workers(2, timeout=GUARD)
        driver = start_grading(submissions, db, address, timeout=10)
        names = {info["name"]: addr for addr, info in client.scheduler_info()["workers"].items()}
        # Worker a is killed while it runs a submission, after a first result is recorded.
        wait_for(lambda: rows(db) and client.processing()[names["a"]], "a result and a busy a")
        workers["a"].send_signal(signal.SIGKILL)
        out, err = driver.communicate(timeout=GUARD)
    finally:
        client.close()
    assert driver.returncode == 0, err
    graded = rows(db)
    assert sorted(graded) == [f"student{i}" for i in range(6)]
    alone = {name: grade(submissions / name).score for name in ("student0", "student3")}
    assert alone["student3"] < alone["student0"] == 100
    for student, (status, score) in graded.items():
        expected = alone["student3" if student == "student3" else "student0"]
        assert (status, score) == ("ok", expected), (student, status, score)
    assert "6 graded now" in out and "Dask at tcp://127.0.0.1" in out
    assert workers["a"].poll() == -signal.SIGKILL


@pytest.mark.parametrize("cluster", [("a", "b", "c")], indirect=True)
def test_a_submission_that_kills_two_workers_is_recorded_as_crashed(tmp_path, cluster):
    """The worker grading one submission is killed, then the next one grading it: that
    submission ends "crashed" without a score, not retried forever, not a 0; the rest
    are graded by the worker left."""
    address, workers = cluster
    solution = (SOLUTIONS / "initialization.py").read_text()
    submissions = tmp_path / "submissions"
    for name, source in [
        ("deadly", solution.replace(HE, HE + "    import time\n    time.sleep(60)\n")),
        ("honest1", solution),
        ("honest2", solution),
    ]:
        (submissions / name).mkdir(parents=True)
        (submissions / name / "initialization.py").write_text(source)
    deadly = read_task("deadly", submissions / "deadly").digest[:16]
    db = tmp_path / "grades.sqlite"
    client = distributed.Client(address, timeout=30)
    try:
        client.wait_for_workers(3, timeout=GUARD)
        by_address = {
            addr: info["name"] for addr, info in client.scheduler_info()["workers"].items()
        }
        driver = start_grading(submissions, db, address, timeout=90)
        killed = []

        def running_deadly():
            for addr, keys in client.processing().items():
                if by_address.get(addr) not in killed and any(deadly in str(k) for k in keys):
                    return by_address[addr]
            return None

        for _ in range(2):
            wait_for(running_deadly, "a worker grading the deadly submission")
            name = running_deadly()
            workers[name].send_signal(signal.SIGKILL)
            killed.append(name)
        out, err = driver.communicate(timeout=GUARD)
    finally:
        client.close()
    assert driver.returncode == 0, err
    graded = rows(db)
    assert graded["deadly"] == ("crashed", None)
    assert graded["honest1"] == graded["honest2"] == ("ok", 45)
    assert "crashed" in out and "killed the Dask workers" in out.replace("\n", " ")


def start_grading(submissions: Path, db: Path, address: str, timeout: int) -> subprocess.Popen:
    """initlab grade SUBMISSIONS --db DB --scheduler ADDRESS, its output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "initlab", "grade", str(submissions), "--db", str(db)]
        + ["--scheduler", address, "--timeout", str(timeout)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def rows(db: Path) -> dict:
    if not db.exists():
        return {}
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return {
                student: (status, score)
                for student, status, score in connection.execute(
                    "SELECT student_id, status, score FROM submissions"
                )
            }
        finally:
            connection.close()
    except sqlite3.Error:
        return {}
