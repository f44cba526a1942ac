"""Grading a whole class: ``initlab grade SUBMISSIONS_DIR --db grades.sqlite``.

The driver (this process) finds one submission per student, skips what the
ledger already holds for the same content and grader, and hands the rest to a
pool: local grading processes (``python -m initlab.bulk``, one per worker, each
grading one submission at a time with ``initlab.grading.grade``), or the workers
of a Dask cluster. Each finished submission is written to the ledger at once,
by the driver only. A grading process that dies takes only its submission with
it: that submission is tried once more, and recorded as ``crashed`` when it
kills a second one. A failure of the machinery is recorded as
``infrastructure`` (no score) and graded again by the next run.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import initlab
from initlab import assignments
from initlab.grading import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT, SubmissionError, grade
from initlab.i18n import _, speaking
from initlab.ledger import Ledger, Result
from initlab.sandbox import (
    ALLOW_UNSANDBOXED,
    MAX_BYTES,
    MAX_FILES,
    SKIPPED_NAMES,
    SandboxError,
    scratch,
    submission_files,
)
from initlab.sandbox import current as current_sandbox

# A grading process that dies while grading the same submission this many times
# (its own death, not the student process's) ends that submission as "crashed".
MAX_WORKER_DEATHS = 2


def _grader_version() -> str:
    """The package version and a hash of the code that decides grades."""
    package = Path(initlab.__file__).resolve().parent
    sources = [package / name for name in ("grading.py", "_child.py", "_loader.py", "reference.py")]
    sources += sorted((package / "checks").glob("*.py"))
    sources += sorted((package / "assignments").rglob("*.py"))
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return f"{initlab.__version__}+{digest.hexdigest()[:12]}"


GRADER_VERSION = _grader_version()


class BulkError(Exception):
    """The batch cannot start; the message is the one-line reason."""


@dataclass(frozen=True)
class Task:
    """One student's submission as bytes, and how to grade it."""

    student_id: str
    digest: str
    files: dict[str, bytes] = field(repr=False)
    hidden: bool = False
    timeout: float = DEFAULT_TIMEOUT
    memory_mb: int = DEFAULT_MEMORY_MB
    problem: str = ""  # why it cannot be graded, found while reading it
    assignment: str = assignments.DEFAULT
    rubric: str = "full"
    allow_unsandboxed: bool = False  # --allow-unsandboxed, for the workers of a cluster
    lang: str = ""  # the language of the messages ("": the grading process's own)

    @property
    def key(self) -> tuple[str, str, str, bool, str, str]:
        return (
            self.student_id, self.digest, GRADER_VERSION, self.hidden, self.assignment, self.rubric
        )  # fmt: skip

    @property
    def max_score(self) -> float:
        return float(sum(assignments.get(self.assignment).points(self.rubric).values()))

    def to_json(self) -> dict:
        files = {name: base64.b64encode(data).decode() for name, data in self.files.items()}
        return {**asdict(self), "files": files}

    @classmethod
    def from_json(cls, data: dict) -> Task:
        files = {name: base64.b64decode(text) for name, text in data["files"].items()}
        return cls(**{**data, "files": files})


def discover(root: Path) -> list[tuple[str, Path]]:
    """(student id, folder) of each submission under root: ``root/<student_id>/``, or
    nbgrader's ``submitted/<student_id>/<assignment>/`` (root being the course folder,
    recognised by its marks, or its ``submitted`` folder)."""
    if not root.exists():
        raise BulkError(_("{path} does not exist").format(path=root))
    if not root.is_dir():
        raise BulkError(_("{path} is not a folder of submissions").format(path=root))
    root = _class_folder(root)
    try:
        students = sorted(p for p in root.iterdir() if p.is_dir() and not _hidden(p))
    except OSError as error:
        raise BulkError(
            _("cannot read {path}: {error}").format(path=root, error=error.strerror)
        ) from None
    if not students:
        raise BulkError(
            _(
                "{path} holds no submissions: expected one folder per student, "
                "<student_id>/ or nbgrader's submitted/<student_id>/<assignment>/"
            ).format(path=root)
        )
    for student in students:
        if not _utf8(student.name):
            raise BulkError(
                _("the student folder {name} in {path} is not a UTF-8 name; rename it").format(
                    name=repr(student.name), path=root
                )
            )
    return [(student.name, _submission_folder(student)) for student in students]


# What only an nbgrader course folder holds: a student's folder holds none of them.
NBGRADER_MARKS = ("nbgrader_config.py", "gradebook.db", "source")


def _class_folder(root: Path) -> Path:
    """The folder holding one folder per student: root, or the ``submitted`` folder of
    the nbgrader course at root. A folder named ``submitted`` elsewhere is a student's,
    and a student cannot decide who the class is: without the course's marks the
    layout is ambiguous, and that is an error."""
    if not (root / "submitted").is_dir():
        return root
    if any((root / mark).exists() for mark in NBGRADER_MARKS):
        return root / "submitted"
    raise BulkError(
        _(
            "{path} holds a folder named submitted but is not an nbgrader course (no "
            "{marks}): pass the submitted folder itself, or rename that student's"
        ).format(path=root, marks=", ".join(NBGRADER_MARKS))
    )


def loose_files(root: Path) -> list[Path]:
    """Files lying beside the student folders, which are not graded."""
    try:
        root = _class_folder(root)
    except BulkError:
        return []
    try:
        return sorted(p for p in root.iterdir() if not p.is_dir() and not _hidden(p))
    except OSError:
        return []


def _utf8(name: str) -> bool:
    """Whether a file name decoded from the disk is valid UTF-8 (no surrogate escapes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _hidden(path: Path) -> bool:
    return path.name.startswith(".") or path.name in SKIPPED_NAMES


def _submission_folder(student: Path) -> Path:
    """The student's folder, or its one assignment folder in nbgrader's layout."""
    entries = [p for p in student.iterdir() if not _hidden(p)]
    if any(p.suffix in (".py", ".ipynb") for p in entries if p.is_file()):
        return student
    folders = [p for p in entries if p.is_dir() and not p.is_symlink()]
    return folders[0] if len(folders) == 1 else student


def read_task(student_id: str, folder: Path, **options) -> Task:
    """The submission in folder as a Task; its digest is over every file's name and bytes."""
    files: dict[str, bytes] = {}
    problem, total = "", 0
    for path in submission_files(folder):
        name = path.relative_to(folder).as_posix()
        if not _utf8(name):
            problem = _("the file name {name} is not UTF-8; rename it to grade the submission")
            problem = problem.format(name=repr(name))
            break
        try:
            size = path.stat().st_size
            if len(files) == MAX_FILES or total + size > MAX_BYTES:
                problem = _("the submission holds more than {files} files or {bytes} bytes")
                problem = problem.format(files=MAX_FILES, bytes=MAX_BYTES)
                break
            files[name] = path.read_bytes()
        except OSError as error:
            # The instructor's copy cannot be read: not the student's fault, and not a grade.
            raise BulkError(
                _("cannot read {path}: {error}").format(path=folder / name, error=error.strerror)
            ) from None
        total += len(files[name])
    digest = hashlib.sha256()
    for name, data in sorted(files.items()):
        digest.update(f"{name}\0{len(data)}\0".encode() + data)
    return Task(student_id, digest.hexdigest(), files, problem=problem, **options)


def grade_task(task: Task) -> Result:
    """Grade one submission, in a folder of its own; SandboxError only when the
    machinery failed. Runs in a grading process: a local worker or a Dask worker."""
    with speaking(task.lang or None):
        return _grade_task(task)


def _grade_task(task: Task) -> Result:
    started, clock = time.time(), time.perf_counter()
    result = Result(
        *task.key[:4],
        assignment=task.assignment,
        rubric=task.rubric,
        status="invalid",
        worker=f"{socket.gethostname()}:{os.getpid()}",
        started_at=started,
    )
    if task.problem or not task.files:
        result.reason = task.problem or _("the submission folder is empty")
        result.score, result.max_score = 0.0, task.max_score
        return result
    if task.allow_unsandboxed:
        os.environ[ALLOW_UNSANDBOXED] = "1"
    # Under bubblewrap the sandbox is sent the files as bytes: the copy stays the
    # grader's own. Only a child running on the host as another uid reads it itself.
    shared = current_sandbox().mode != "bwrap"
    with scratch("submission") as temporary:
        folder = Path(temporary) / "submission"
        for name, data in task.files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o755 if shared else 0o700)
            path.write_bytes(data)
            path.chmod(0o644 if shared else 0o600)
        folder.chmod(0o755 if shared else 0o700)
        Path(temporary).chmod(0o711 if shared else 0o700)
        try:
            report = grade(
                folder, task.hidden, task.timeout, task.memory_mb, task.assignment, task.rubric
            )
        except SubmissionError as error:
            result.reason = str(error).replace(str(folder), _("the submission"))
            result.score, result.max_score = 0.0, task.max_score
            return result
    result.tests = [test.to_json() for test in report.tests]
    result.score, result.max_score = report.score, report.max_score
    result.sandbox = report.sandbox
    result.status = _status(result.tests)
    result.seconds = time.perf_counter() - clock
    return result


def _status(tests: list[dict]) -> str:
    codes = {code for test in tests for code in test["diagnoses"]}
    if "timeout" in codes:
        return "timeout"
    if any(test["status"] == "error" for test in tests):
        return "error"
    return "ok"


def unfinished(task: Task, status: str, reason: str) -> Result:
    """The result of a task the pool could not grade: infrastructure or crashed."""
    return Result(
        *task.key[:4],
        status=status,
        reason=reason,
        started_at=time.time(),
        assignment=task.assignment,
        rubric=task.rubric,
    )


class LocalPool:
    """Grading processes on this machine, each fed one submission at a time."""

    def __init__(self, workers: int):
        self.workers = workers
        self.stopping = threading.Event()
        self.processes: set[subprocess.Popen] = set()
        self.lock = threading.Lock()
        # Named for this process like the scratch folders: a kill -9 leaves it for the
        # next batch's sweep_scratch.
        self.log = scratch("workers")
        self.description = (
            _("{count} local worker") if workers == 1 else _("{count} local workers")
        ).format(count=workers)

    def map(self, tasks: list[Task]) -> Iterator[Result]:
        todo: queue.Queue[tuple[Task, int]] = queue.Queue()
        done: queue.Queue[Result] = queue.Queue()
        for task in tasks:
            todo.put((task, 0))
        threads = [
            threading.Thread(target=self._slot, args=(todo, done), daemon=True)
            for _slot in range(min(self.workers, len(tasks)))
        ]
        for thread in threads:
            thread.start()
        for _task in tasks:
            yield done.get()

    def _slot(self, todo: queue.Queue, done: queue.Queue) -> None:
        worker = None
        while not self.stopping.is_set():
            try:
                task, deaths = todo.get_nowait()
            except queue.Empty:
                break
            try:
                worker = worker or self._start()
                line = _exchange(worker, json.dumps(task.to_json()))
            except OSError as error:
                # This machine could not start or reach a grading process: no fault of the
                # submission's, so no final status; the next run grades it.
                self._forget(worker)
                worker = None
                why = _("the grading process could not run ({error})").format(error=error)
                done.put(unfinished(task, "infrastructure", why))
                continue
            why = _("the grading process died")
            if not line:
                self._forget(worker)
                worker = None
                if self.stopping.is_set():
                    break
                if deaths + 1 >= MAX_WORKER_DEATHS:
                    times = _("{why} {count} times on it").format(why=why, count=deaths + 1)
                    done.put(unfinished(task, "crashed", times))
                else:
                    todo.put((task, deaths + 1))
                continue
            try:
                answer = json.loads(line)
            except ValueError:
                # Not what a grading process writes: it is broken, so it goes, and
                # this submission is the machinery's failure, graded again next run.
                self._forget(worker)
                worker = None
                garbage = _("the grading process answered garbage")
                done.put(unfinished(task, "infrastructure", garbage))
                continue
            if "infrastructure" in answer:
                done.put(unfinished(task, "infrastructure", answer["infrastructure"]))
            else:
                done.put(Result(**answer))
        self._forget(worker)

    def _start(self) -> subprocess.Popen:
        log = open(Path(self.log.name) / f"{threading.get_ident()}.log", "ab")  # noqa: SIM115
        with self.lock:
            if self.stopping.is_set():
                raise OSError("the batch is stopping")
            process = subprocess.Popen(
                [sys.executable, "-m", "initlab.bulk"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env={
                    **os.environ,
                    "INITLAB_NUM_THREADS": "1",
                    "OPENBLAS_NUM_THREADS": "1",
                    DRIVER_PID: str(os.getpid()),
                },
            )
            log.close()
            self.processes.add(process)
        return process

    def _forget(self, worker: subprocess.Popen | None) -> None:
        if worker is None:
            return
        with self.lock:
            self.processes.discard(worker)
        with contextlib.suppress(OSError):
            worker.stdin.close()
        worker.kill()
        worker.wait()
        worker.stdout.close()

    def close(self) -> None:
        """Stop every grading process; a submission in flight is simply not recorded."""
        self.stopping.set()
        with self.lock:
            for process in self.processes:
                process.kill()
        self.log.cleanup()


def _exchange(worker: subprocess.Popen, line: str) -> str:
    """Send one task, read its one-line answer; "" when the process died."""
    try:
        worker.stdin.write(line.encode() + b"\n")
        worker.stdin.flush()
    except (BrokenPipeError, ValueError):
        return ""
    return worker.stdout.readline().decode()


# The pid of the command a local grading process works for: it ends with that command.
DRIVER_PID = "INITLAB_DRIVER_PID"


def _die_with_driver() -> None:
    """A parent-death signal (SIGKILL), so that a ``kill -9`` of the command ends its
    grading processes too (their sandboxes die with them); if the command is already
    gone, end now."""
    import ctypes
    import signal

    driver = os.environ.get(DRIVER_PID)
    if not driver or not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != int(driver):
        os._exit(1)


def serve() -> None:
    """A local grading process: one JSON task per line in, one JSON result per line out."""
    _die_with_driver()
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not break lines
    for line in sys.stdin:
        task = Task.from_json(json.loads(line))
        try:
            answer = asdict(grade_task(task))
        except SandboxError as error:
            answer = {"infrastructure": str(error)}
        except Exception as error:  # the grader's own failure: never the student's 0
            failed = _("the grader failed: {error}").format(
                error=f"{type(error).__name__}: {error}"
            )
            answer = {"infrastructure": failed}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


class DaskPool:
    """The workers of a running Dask cluster (``dask scheduler`` / ``dask worker``)."""

    def __init__(self, address: str, connect_timeout: float = 10.0):
        try:
            from distributed import Client
        except ImportError:
            raise BulkError(
                _("--scheduler needs Dask distributed: pip install 'initlab[cluster]'")
            ) from None
        _check_reachable(address, connect_timeout)
        try:
            self.client = Client(address, timeout=connect_timeout)
        except (OSError, TimeoutError, ValueError) as error:
            raise BulkError(
                _("cannot reach the Dask scheduler at {address}: {error}").format(
                    address=address, error=error
                )
            ) from None
        try:
            self.client.wait_for_workers(1, timeout=connect_timeout)
        except TimeoutError:
            self.client.close()
            raise BulkError(
                _("the Dask scheduler at {address} has no workers").format(address=address)
            ) from None
        workers = len(self.client.nthreads())
        self.description = (
            _("Dask at {address} ({count} worker)")
            if workers == 1
            else _("Dask at {address} ({count} workers)")
        ).format(address=address, count=workers)

    def map(self, tasks: list[Task]) -> Iterator[Result]:
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        run = f"{os.getpid()}-{time.time_ns()}"
        keys = [f"initlab-grade-{task.digest[:16]}-{i}-{run}" for i, task in enumerate(tasks)]
        futures = self.client.map(grade_task, tasks, key=keys, pure=False)
        by_key = dict(zip(keys, tasks, strict=True))
        for future in as_completed(futures):
            task = by_key[future.key]
            if future.status == "finished":
                result = future.result()
                if result.grader_version != GRADER_VERSION:
                    result = unfinished(
                        task,
                        "infrastructure",
                        _(
                            "the worker {worker} grades with initlab {version}; this command "
                            "with {ours}"
                        ).format(
                            worker=result.worker, version=result.grader_version, ours=GRADER_VERSION
                        ),
                    )
                yield result
            elif future.status == "cancelled":
                yield unfinished(task, "infrastructure", _("the Dask cluster cancelled the task"))
            else:
                error = future.exception()
                if isinstance(error, KilledWorker):
                    killed = _("it killed the Dask workers: {error}").format(error=error)
                    yield unfinished(task, "crashed", killed)
                else:
                    yield unfinished(task, "infrastructure", f"{type(error).__name__}: {error}")
            future.release()

    def close(self) -> None:
        self.client.close()


@dataclass
class Batch:
    """A run over a folder: every task, and the ledger's result for each one graded."""

    tasks: list[Task]
    results: dict[tuple[str, str, str, bool], Result]
    graded_now: int = 0
    seconds: float = 0.0
    pool: str = ""


def grade_directory(
    tasks: list[Task],
    ledger: Ledger,
    pool: LocalPool | DaskPool,
    on_result: Callable[[Result], None] = lambda result: None,
) -> Batch:
    """Grade the tasks the ledger does not hold yet, recording each as it finishes.
    Interrupted (Ctrl-C), what finished is in the ledger; the rest is graded next time."""
    batch = Batch(tasks, {}, pool=pool.description)
    todo = [task for task in tasks if not ledger.is_done(task.key)]
    start = time.perf_counter()
    try:
        for result in pool.map(todo):
            ledger.record(result, time.time())
            batch.graded_now += 1
            on_result(result)
    finally:
        batch.seconds = time.perf_counter() - start
        pool.close()
    for task in tasks:
        result = ledger.get(task.key)
        if result is not None:
            batch.results[task.key] = result
    return batch


def _check_reachable(address: str, timeout: float) -> None:
    """A refused or unroutable tcp:// address fails at once, not after the client's retries."""
    scheme, _sep, place = address.rpartition("://")
    host, _sep, port = place.rpartition(":")
    if scheme not in ("", "tcp") or not port.isdigit():
        return  # another protocol: the client says what is wrong
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as error:
        raise BulkError(
            _("cannot reach the Dask scheduler at {address}: {error}").format(
                address=address, error=error
            )
        ) from None


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    serve()
