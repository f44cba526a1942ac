"""The process that runs student code: ``python _child.py WORKDIR CHANNEL``.

It loads the submission named in ``WORKDIR/plan.json``, runs the plan's calls
in order and describes each result down the pipe CHANNEL that the grader
opened: a "ready" frame before any student code, then per step a record (JSON)
after its arrays (``.npy`` bytes), one step at a time, so a step that never
ends leaves the earlier ones recorded. It judges nothing: the grader's process
reads that pipe (never pickles, never this process's output) and decides.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path

import numpy as np

if __package__:
    from initlab import _loader
else:  # run as a script (python -I _child.py): the loader is the file beside it
    import importlib.util

    _spec = importlib.util.spec_from_file_location(
        "initlab_loader", Path(__file__).with_name("_loader.py")
    )
    _loader = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = _loader
    _spec.loader.exec_module(_loader)

# Bound before any student code runs, so a submission that patches numpy or
# json cannot change how its results are written.
_save = np.save
_ndarray = np.ndarray
_dumps = json.dumps
_asarray = np.asarray
_getpid = os.getpid
_os_write = os.write
_BytesIO = io.BytesIO
_exit = os._exit
_clock = __import__("time").perf_counter
_PID = os.getpid()

MAX_ELEMENTS = 20_000_000  # per step, across its arrays
MAX_ITEMS = 100  # items of a returned list or tuple described one by one (a cache)
MAX_PRINTED = 4000  # characters of what one call printed that go back with its record
MAX_OPEN_FILES = 64
MAX_PROCESSES = 16  # threads count too


class _Writer:
    """Describes one step's result; its arrays go down the channel as .npy bytes."""

    def __init__(self, channel: int | list, step: str):
        self.channel, self.step, self.count, self.elements = channel, step, 0, 0

    def array(self, value) -> dict:
        array = _asarray(value)
        if array.dtype.hasobject:
            return {"kind": "other", "type": "array of objects"}
        self.elements += array.size
        if self.elements > MAX_ELEMENTS:
            return {"kind": "other", "type": f"array too large ({array.size} elements)"}
        name = f"{self.step}.{self.count}.npy"
        self.count += 1
        buffer = _BytesIO()
        _save(buffer, array, allow_pickle=False)
        _send(self.channel, {"kind": "array", "name": name}, buffer.getvalue())
        return {"file": name}

    def describe(self, value, depth: int = 0, keep=None, structured: bool = False) -> dict:
        kind = type(value)
        name = f"{kind.__module__}.{kind.__qualname__}"
        if kind is _ndarray:
            return {"kind": "ndarray", **self.array(value)}
        if isinstance(value, _ndarray):
            return {"kind": "foreign", "type": name, **self.array(value)}
        if kind in (float, int, bool) or isinstance(value, np.generic):
            return {"kind": "scalar", "type": name, "value": float(value)}
        if kind is dict and depth < 2:
            items = {str(k): self.describe(v, depth + 1) for k, v in value.items()}
            return {"kind": "dict", "items": items, "keys": [repr(k) for k in value]}
        if kind in (tuple, list) and keep is not None:
            items = {
                str(i): self.describe(value[i], depth + 1, structured=True)
                for i in keep
                if i < len(value)
            }
            return {"kind": "sequence", "type": name, "length": len(value), "items": items}
        if kind in (tuple, list) and structured and depth < 4 and len(value) <= MAX_ITEMS:
            # A cache: a list of tuples of arrays, described item by item.
            items = {
                str(i): self.describe(v, depth + 1, structured=True) for i, v in enumerate(value)
            }
            return {"kind": "sequence", "type": name, "length": len(value), "items": items}
        if kind in (tuple, list):
            try:
                return {"kind": "foreign", "type": name, **self.array(value)}
            except (ValueError, TypeError):
                return {"kind": "other", "type": name}
        return {"kind": "other", "type": name}


def _argument(spec, inputs, results):
    """A call's argument: a JSON literal, an input array, a dict, list or tuple of
    these, or what an earlier step returned (None when that step returned nothing
    usable)."""
    if "literal" in spec:
        return copy.deepcopy(spec["literal"])
    if "input" in spec:
        return inputs[spec["input"]].copy()
    if "dict" in spec:
        return {key: _argument(item, inputs, results) for key, item in spec["dict"].items()}
    if "list" in spec:
        return [_argument(item, inputs, results) for item in spec["list"]]
    if "tuple" in spec:
        return tuple(_argument(item, inputs, results) for item in spec["tuple"])
    if spec["result"] not in results:
        return None
    value = results[spec["result"]]
    if "item" not in spec:
        return value
    try:
        return value[spec["item"]]
    except Exception:
        return None


class TimeLimit(BaseException):
    """Raised in the student's code when its time is up (not an Exception, so a
    bare ``except Exception`` in the student's code does not swallow it)."""


_OWN_FILES = {__file__}


@contextlib.contextmanager
def time_limit(seconds: float, own_files: set[str] = frozenset()) -> Iterator[None]:
    """Stop the student's code after seconds: raise TimeLimit in it, and from then
    on at every line it runs, so a bare ``except:`` (even one around a sleep) cannot
    hold it off; the timer fires again every 0.1 s for code that runs no Python
    lines. Never in this module's, contextlib's or own_files' frames, so the limit
    is always lifted. The one time policy of both runners: a budget per function.
    Only the main thread receives signals; elsewhere there is no limit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    own = _OWN_FILES | {contextlib.__file__} | set(own_files)

    def stop(frame, event, arg):
        if frame.f_code.co_filename in own:
            return None
        if event in ("call", "line"):
            raise TimeLimit
        return stop

    def expire(signum, frame):
        if frame is None or frame.f_code.co_filename in own:
            return
        outer = frame
        while outer is not None:
            if outer.f_code.co_filename not in own:
                outer.f_trace = stop
            outer = outer.f_back
        sys.settrace(stop)
        raise TimeLimit

    previous_trace = sys.gettrace()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3), 0.1)
    try:
        yield
    finally:
        # The trace first: signal.signal is Python code (signal.py) that it would stop.
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.settrace(previous_trace)
        signal.signal(signal.SIGALRM, previous)


def limit_resources(memory_mb: int, cpu_seconds: int | None = None) -> None:
    """Before any student code: an address-space cap (a memory bomb gets MemoryError),
    no core dumps, no file larger than the results could be, few open files and
    processes (a fork bomb gets BlockingIOError), and CPU seconds when given."""
    import resource

    size = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    file_cap = 8 * MAX_ELEMENTS + (1 << 20)
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_cap, file_cap))
    resource.setrlimit(resource.RLIMIT_NOFILE, (MAX_OPEN_FILES, MAX_OPEN_FILES))
    # No POSIX message queue: it would outlive the run, and nothing could list it.
    resource.setrlimit(resource.RLIMIT_MSGQUEUE, (0, 0))
    if os.geteuid() != 0:  # the limit is per uid, and root ignores it
        resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))
    if cpu_seconds:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


# System call numbers of the kernel key facility, and the audit arch of the machine.
_KEY_CALLS = {
    "x86_64": (0xC000003E, {"add_key": 248, "request_key": 249, "keyctl": 250}),
    "aarch64": (0xC00000B7, {"add_key": 217, "request_key": 218, "keyctl": 219}),
}


def fresh_keyrings() -> None:
    """No kernel key of an earlier run or of the grader: the uid's user and persistent
    keyrings (which outlive its processes) emptied, a new session keyring joined (an
    OSError when there is none to be had: the run must not go on with the one it
    inherited), then no key system call at all for the student code (seccomp)."""
    import ctypes
    import platform
    import time

    machine = _KEY_CALLS.get(platform.machine())
    if machine is None:
        return
    keyctl = machine[1]["keyctl"]
    libc = ctypes.CDLL(None, use_errno=True)
    for keyring in (-4, -5):  # KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING
        libc.syscall(keyctl, 7, ctypes.c_int(keyring))  # KEYCTL_CLEAR
    persistent = libc.syscall(keyctl, 22, ctypes.c_int(-1), ctypes.c_int(-4))  # GET_PERSISTENT
    if persistent >= 0:
        libc.syscall(keyctl, 7, ctypes.c_int(persistent))
    # Freed keys are reclaimed by the kernel a moment later: a quota still full is tried
    # again before the run gives up.
    for pause in (0.0, 0.05, 0.2, 0.5):
        time.sleep(pause)
        if _join_session_keyring():
            break
    else:
        raise OSError("cannot join a fresh session keyring (the uid's key quota is full)")
    _forbid_key_calls(libc, *machine)


def _join_session_keyring() -> bool:
    """KEYCTL_JOIN_SESSION_KEYRING: a new, anonymous session keyring; False if refused."""
    import ctypes
    import platform

    machine = _KEY_CALLS.get(platform.machine())
    if machine is None:
        return True
    return ctypes.CDLL(None).syscall(machine[1]["keyctl"], 1, None) >= 0


def _forbid_key_calls(libc, arch: int, calls: dict[str, int]) -> None:
    """A seccomp filter: add_key, request_key and keyctl fail with EPERM, and so does
    every system call of another ABI (x32, 32-bit), whose numbers differ."""
    load, equal, at_least, answer = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, JEQ|K, JGE|K, RET|K
    allow, deny = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    add_key, request_key, keyctl = calls["add_key"], calls["request_key"], calls["keyctl"]
    program = [
        (load, 0, 0, 4),  # seccomp_data.arch
        (equal, 1, 0, arch),
        (answer, 0, 0, deny),
        (load, 0, 0, 0),  # seccomp_data.nr
        (at_least, 4, 0, 0x40000000),  # the x32 ABI's numbers
        (equal, 3, 0, add_key),
        (equal, 2, 0, request_key),
        (equal, 1, 0, keyctl),
        (answer, 0, 0, allow),
        (answer, 0, 0, deny),
    ]
    _install_filter(libc, program)


def _install_filter(libc, program: list[tuple[int, int, int, int]]) -> None:
    """Install a seccomp BPF program of (code, jt, jf, k) lines (filters stack)."""
    import ctypes

    class Filter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                    ("k", ctypes.c_uint32)]  # fmt: skip

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]

    filters = (Filter * len(program))(*[Filter(*line) for line in program])
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS, which seccomp needs
        raise OSError(ctypes.get_errno(), "cannot set no_new_privs")
    prog = Program(len(program), filters)
    # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
    if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "cannot install the seccomp filter")


# fork, vfork, clone and clone3 by architecture (None: the architecture has no such call)
_PROCESS_CALLS = {
    "x86_64": (0xC000003E, 57, 58, 56, 435),
    "aarch64": (0xC00000B7, None, None, 220, 435),
}


def forbid_new_processes() -> None:
    """A seccomp filter: the run cannot start another process (fork, vfork, and clone
    without CLONE_THREAD fail with EPERM; clone3 says ENOSYS, so that threads are made
    with clone). The memory of a run is then one address space, bounded by --memory,
    with the sandbox's small /tmp and System V limits beside it."""
    import ctypes
    import platform

    calls = _PROCESS_CALLS.get(platform.machine())
    if calls is None:
        return
    arch, fork, vfork, clone, clone3 = calls
    never = 0xFFFFFFF0  # a system call number no architecture has
    load, equal, bits, answer = 0x20, 0x15, 0x45, 0x06  # LD|W|ABS, JEQ|K, JSET|K, RET|K
    allow, deny = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    absent = 0x00050000 | 38  # SECCOMP_RET_ERRNO | ENOSYS
    program = [
        (load, 0, 0, 4),  # 0: seccomp_data.arch
        (equal, 1, 0, arch),  # 1
        (answer, 0, 0, deny),  # 2
        (load, 0, 0, 0),  # 3: seccomp_data.nr
        (equal, 0, 1, clone3),  # 4
        (answer, 0, 0, absent),  # 5
        (equal, 5, 0, never if fork is None else fork),  # 6 -> 12
        (equal, 4, 0, never if vfork is None else vfork),  # 7 -> 12
        (equal, 0, 2, clone),  # 8 -> 9, else 11
        (load, 0, 0, 16),  # 9: clone's flags, the low word of args[0]
        (bits, 0, 1, 0x00010000),  # 10: CLONE_THREAD -> 11, else 12
        (answer, 0, 0, allow),  # 11
        (answer, 0, 0, deny),  # 12
    ]
    _install_filter(ctypes.CDLL(None, use_errno=True), program)


def run(workdir: Path, channel: int) -> None:
    plan = json.loads((workdir / "plan.json").read_text())
    messages = plan.get("messages")
    if isinstance(messages, dict):  # the grader's language: its loader messages
        _loader.TEMPLATES.update(
            {k: v for k, v in messages.items() if k in _loader.MESSAGES and isinstance(v, str)}
        )
    if plan.get("memory_mb"):
        limit_resources(int(plan["memory_mb"]), plan.get("cpu_seconds"))
    fresh_keyrings()
    forbid_new_processes()
    inputs = {}
    if (workdir / "inputs.npz").exists():
        with np.load(workdir / "inputs.npz", allow_pickle=False) as archive:
            inputs = {key: archive[key] for key in archive.files}
    # Started, limited, inputs read: what fails from here on is the submission's.
    _send(channel, {"kind": "ready"})
    try:
        choices = load_submission(plan, channel)
    except BaseException as error:  # noqa: BLE001 - the loader's own failure, said as such
        message = _loader.say("loader.not_loaded", error=_error_message(error))
        for step in plan["steps"]:
            _write(channel, step["id"], {"status": "load_error", "error": message})
        return
    sources = {name: c.source.name for name, c in choices.items() if c.source is not None}
    _send(channel, {"kind": "sources", "functions": sources})
    results = {}
    budget = float(plan.get("function_seconds") or 0)
    spent: dict[str, float] = {}
    for step in plan["steps"]:
        choice = choices.get(step["function"]) or _loader.Choice()
        left = budget - spent.get(step["function"], 0.0)
        if budget and left <= 0:
            message = _loader.say("loader.timeout", function=step["function"], seconds=budget)
            _write(channel, step["id"], {"status": "timeout", "error": message})
        elif choice.status == "broken":
            _write(channel, step["id"], {"status": "load_error", "error": choice.error})
        elif choice.status == "missing":
            _write(channel, step["id"], {"status": "missing_function", "error": choice.error})
        else:
            explain = choice.source.explain
            start = _clock()
            try:
                with time_limit(left) if budget else _Nothing():
                    call_step(
                        step, choice.function, inputs, results, channel, (TimeLimit,), explain, True
                    )
            except TimeLimit:
                message = _loader.say("loader.timeout", function=step["function"], seconds=budget)
                _write(channel, step["id"], {"status": "timeout", "error": message})
            spent[step["function"]] = spent.get(step["function"], 0.0) + _clock() - start


_LABELS: dict[str, str] = {}  # the loaded files' names for error messages


def load_submission(plan: dict, channel: int | list) -> dict[str, _loader.Choice]:
    """Load the plan's source files and choose where each graded function comes from.
    Before each statement that runs, a "loading" frame names it: when one ends the
    process, the grader runs the plan again, skipping it."""

    def announce(statement: str, label: str, names: list[str]) -> None:
        _send(channel, {"kind": "loading", "statement": statement, "label": label,
                        "defines": names})  # fmt: skip

    loader = _loader.Loader(
        Path(plan["path"]), plan.get("skip") or {}, announce, _LABELS, plan.get("stand_ins")
    )
    loader.install()
    loaded, failures = {}, []
    for name in plan["sources"]:
        try:
            loaded[name] = loader.source(name)
        except BaseException as error:  # noqa: BLE001 - the file is unreadable: its functions fail
            failures.append(
                _loader.say("loader.file_not_loaded", file=name, error=_error_message(error))
            )
    _send(channel, {"kind": "loaded"})
    choices = {}
    for function, order in plan["functions"].items():
        choice = _loader.choose(function, [loaded[n] for n in order if n in loaded])
        if choice.status == "missing" and failures:
            choice = _loader.Choice(status="broken", error="; ".join(failures))
        choices[function] = choice
    return choices


def call_step(
    step: dict,
    function,
    inputs: dict[str, np.ndarray],
    results: dict,
    channel: int | list,
    passthrough: tuple[type[BaseException], ...] = (),
    explain=None,
    capture: bool = False,
) -> None:
    """Call function with the step's arguments and send what it returned down channel;
    results collects the return values for later steps. Exceptions of the
    passthrough types propagate; every other one is the student's and recorded
    (explain adds a hint to its message). With capture, what the function printed
    and warned goes with the record (for the student to read, never judged)."""
    printed = _Printed() if capture else None
    try:
        with printed or _Nothing(), _helpers(function, step.get("helpers")):
            args = [_argument(spec, inputs, results) for spec in step["args"]]
            args += [
                _argument(spec, inputs, results)
                for spec in step.get("optional", [])[: _room(function, len(args))]
            ]
            if step.get("seed") is not None:
                np.random.seed(int(step["seed"]))  # the course's legacy global generator
            value = function(*args)
    except passthrough:
        raise
    except NotImplementedError:
        _write(channel, step["id"], {"status": "not_implemented"}, printed)
        return
    except _loader.UnavailableName as error:
        _write(channel, step["id"], {"status": "unavailable", "error": str(error)}, printed)
        return
    except BaseException as error:  # SystemExit and KeyboardInterrupt are the student's too
        hint = explain(error) if explain else ""
        message = (_error_message(error) + hint)[:2000]
        _write(channel, step["id"], {"status": "exception", "error": message}, printed)
        return
    _only_the_child()
    results[step["id"]] = value
    writer = _Writer(channel, step["id"])
    try:
        description = writer.describe(value, keep=step.get("keep"))
    except Exception as error:
        description = {"kind": "other", "type": f"unreadable result ({type(error).__name__})"}
    _write(channel, step["id"], {"status": "ok", "value": description}, printed)


def _room(function, given: int) -> int:
    """How many more positional arguments function takes than given (a course
    function whose editions differ: compute_cost(A2, Y) and compute_cost(A2, Y,
    parameters))."""
    import inspect

    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 0
    kinds = [p.kind for p in parameters]
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        return 0
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [
        p for p in parameters if p.kind in positional and p.default is inspect.Parameter.empty
    ]
    return max(0, len(required) - given)


@contextlib.contextmanager
def _helpers(function, sources: dict | None) -> Iterator[None]:
    """While function runs, the names of sources (grader-written numpy functions) in its
    globals stand for correct helpers: a function that calls the student's other
    functions (nn_model) is judged on its own work, not on theirs."""
    namespace = getattr(function, "__globals__", None)
    if not sources or not isinstance(namespace, dict):
        yield
        return
    helpers = {"np": np}
    for source in sources.values():
        exec(source, helpers)
    saved = {name: namespace[name] for name in sources if name in namespace}
    namespace.update({name: helpers[name] for name in sources})
    try:
        yield
    finally:
        for name in sources:
            namespace.pop(name, None)
        namespace.update(saved)


class _Printed:
    """Collects what the block prints (sys.stdout, sys.stderr) and warns, up to
    MAX_PRINTED characters: the student's own output, shown to them with the verdict."""

    def __enter__(self):
        import contextlib
        import warnings

        self.text = io.StringIO()
        self.stack = contextlib.ExitStack()
        self.stack.enter_context(contextlib.redirect_stdout(self.text))
        self.stack.enter_context(contextlib.redirect_stderr(self.text))
        self.caught = self.stack.enter_context(warnings.catch_warnings(record=True))
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc_info):
        self.stack.close()
        return False

    def value(self) -> str:
        text = self.text.getvalue()[:MAX_PRINTED]
        for warning in self.caught[:20]:
            text += f"{warning.category.__name__}: {warning.message}\n"
        return text[:MAX_PRINTED]


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


def _error_message(error: BaseException) -> str:
    """``Type: message (where, line N: code)``: the student's innermost frame, named as
    the student knows it (a notebook's cell, a file of the submission)."""
    frames = traceback.extract_tb(error.__traceback__)
    if any(f.filename in _LABELS for f in frames):
        return _loader.describe(error, _LABELS)
    where = next((f for f in reversed(frames) if "initlab" not in f.filename), None)
    place = ""
    if where and where.line:
        place = _loader.say("loader.line", line=where.lineno, code=where.line)
    return f"{type(error).__name__}: {error}{place}"[:2000]


def _only_the_child() -> None:
    """A copy of this process made by os.fork in student code ends here: only the
    child itself reports, so copies never interleave frames with it."""
    if _getpid() != _PID:
        _exit(0)


def _write(channel: int | list, step: str, record: dict, printed: _Printed | None = None) -> None:
    _only_the_child()
    text = printed.value() if printed is not None else ""
    if text:
        record = {**record, "printed": text}
    _send(channel, {"kind": "record", "step": step, "record": record})


def _send(channel: int | list, header: dict, body: bytes = b"") -> None:
    """One frame: on a pipe, the header's length (4 bytes), the header as JSON, then
    body bytes (their length is in the header); in-process (a list), appended as
    (header, body)."""
    if isinstance(channel, list):
        channel.append(({**header, "size": len(body)}, body))
        return
    encoded = _dumps({**header, "size": len(body)}).encode()
    data = memoryview(len(encoded).to_bytes(4, "big") + encoded + body)
    while data:
        data = data[_os_write(channel, data) :]


def serve(control: int, uid: int | None) -> None:
    """The zygote of a sandbox: numpy is imported, no student code ever runs here. For
    each request on the control socket it forks a child that runs one plan in a fresh
    folder of its own (as uid, when given), then ends whatever that child left running,
    then answers."""
    import ctypes
    import shutil
    import socket
    import tempfile

    # Not dumpable: a child can neither trace it nor open its files in /proc.
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    _limit_ipc()
    connection = socket.socket(fileno=control)
    _send(control, {"kind": "ready"})
    while True:
        request, body, channel = _receive(connection)
        if request is None:
            return
        folder = Path(tempfile.mkdtemp(prefix="run-", dir="/tmp"))
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                global _PID
                _PID = os.getpid()
                connection.close()
                workdir = _unpack(request, body, folder)
                sys.argv[1:] = [str(workdir), str(channel)]  # as when run on its own
                os.chdir(workdir)
                # A session keyring of its own, made as the sandbox's root (whose key quota
                # no run can fill), so the one it inherited, the grader's, is never its.
                if not _join_session_keyring():
                    raise OSError("cannot join a fresh session keyring")
                if uid is not None:
                    _become(uid, ctypes)
                run(workdir, channel)
                code = 0
            finally:
                os._exit(code)
        os.close(channel)
        status = os.waitpid(pid, 0)[1]
        if not _end_leftovers():
            return  # something will not die: the grader starts a new sandbox
        # Nothing of one run may reach the next: its files, its System V IPC objects.
        _clear(Path("/tmp"), _mounted_under(Path("/tmp")), shutil)
        _remove_ipc_objects(uid)
        _send(control, {"kind": "ended", "code": os.waitstatus_to_exitcode(status)})


# System V IPC of a whole sandbox, at most (the limits of its own IPC namespace, which
# its root sets): memory that --memory (an address-space limit) does not see, held by
# the kernel for as long as the objects exist.
IPC_LIMITS = {
    "shmmax": 1 << 20,  # bytes per shared memory segment
    "shmall": 256,  # pages of shared memory in all: 1 MiB
    "shmmni": 16,  # segments
    "msgmax": 8192,  # bytes per message
    "msgmnb": 65536,  # bytes per message queue
    "msgmni": 16,  # message queues: 1 MiB in all
    "sem": "32 512 32 16",  # per set, in all, per semop call, sets
}


def _limit_ipc() -> None:
    """Set IPC_LIMITS in this sandbox's IPC namespace; an OSError if it cannot (the
    sandbox then does not start: a run must not have the host's limits)."""
    for name, value in IPC_LIMITS.items():
        with open(f"/proc/sys/kernel/{name}", "w") as setting:
            setting.write(f"{value}\n")


def _become(uid: int, ctypes) -> None:
    """Give up root for uid for good: no groups, no capabilities, no way back."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    libc = ctypes.CDLL(None, use_errno=True)
    # Its permitted and effective capabilities went with root; the inheritable ones the
    # sandbox's root kept go too: a run holds none at all.
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    if libc.capset(header, (ctypes.c_uint32 * 6)()) != 0:
        raise OSError(ctypes.get_errno(), "cannot clear the inheritable capabilities")
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError("cannot set no_new_privs")


def _receive(connection) -> tuple[dict | None, bytes, int]:
    """A run request: its header, its body and the channel sent with it."""
    import socket

    prefix, fds, _, _ = socket.recv_fds(connection, 4, 1)
    if not prefix or not fds:
        return None, b"", -1
    prefix += _exactly(connection, 4 - len(prefix))
    header = json.loads(_exactly(connection, int.from_bytes(prefix, "big")))
    return header, _exactly(connection, int(header["size"])), fds[0]


def _exactly(connection, size: int) -> bytes:
    chunks = []
    while size > 0:
        chunk = connection.recv(min(size, 1 << 20))
        if not chunk:
            raise EOFError("the grader closed the control socket")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _unpack(request: dict, body: bytes, folder: Path) -> Path:
    """The run's folder: the submission's files, the inputs and the plan, which names
    the copy of the submission."""
    submission = folder / "submission"
    at = 0
    for name, size in request["files"]:
        file = submission / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(body[at : at + size])
        at += size
    if request["inputs"]:
        (folder / "inputs.npz").write_bytes(body[at : at + request["inputs"]])
    plan = {**request["plan"], "path": str(submission / request["path"])}
    (folder / "plan.json").write_text(json.dumps(plan))
    folder.chmod(0o755)  # readable, not writable, by the uid the run becomes
    return folder


def _mounted_under(root: Path) -> set[Path]:
    """The mount points under root (read-only binds of the environment) and the
    folders on their way: these stay."""
    kept = set()
    with open("/proc/self/mountinfo") as table:
        for line in table:
            point = Path(line.split()[4].replace("\\040", " "))
            if point != root and point.is_relative_to(root):
                kept.add(point)
                kept.update(p for p in point.parents if p.is_relative_to(root) and p != root)
    return kept


def _clear(folder: Path, kept: set[Path], shutil) -> None:
    """Remove everything in folder but what is kept (and inside a kept mount point)."""
    for entry in folder.iterdir():
        if entry not in kept:
            _remove(entry, shutil)
        elif not os.path.ismount(entry):
            _clear(entry, kept, shutil)


def _remove(path: Path, shutil) -> None:
    """Remove path, even where the run took its own write permission away."""

    def writable_again(function, name, error):
        os.chmod(os.path.dirname(name) or "/", 0o700)
        if os.path.isdir(name) and not os.path.islink(name):
            os.chmod(name, 0o700)
        function(name)

    if path.is_dir() and not path.is_symlink():
        path.chmod(0o700)
        shutil.rmtree(path, onerror=writable_again)
    else:
        path.unlink(missing_ok=True)


def _remove_ipc_objects(uid: int | None = None) -> None:
    """Remove the shared memory segments, message queues and semaphores of this
    sandbox's IPC namespace (its own: every one was made by a run). Removing one takes
    its owner or CAP_SYS_ADMIN, which the sandbox does not keep: runs as uid, their
    objects are removed as uid (effective only, and back)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if uid is not None:
        os.seteuid(uid)
    try:
        for kind, control in (("shm", libc.shmctl), ("msg", libc.msgctl), ("sem", libc.semctl)):
            with open(f"/proc/sysvipc/{kind}") as table:
                for line in table.readlines()[1:]:
                    identifier = int(line.split()[1])
                    control(identifier, 0, None)  # IPC_RMID; semctl ignores its 3rd argument
    finally:
        if uid is not None:
            os.seteuid(0)


def _end_leftovers() -> bool:
    """Kill every process of this sandbox but its init and the zygote (the PID
    namespace holds nothing else); False when some will not go."""
    import signal
    import time

    for _ in range(2000):
        others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, _PID)]
        if not others:
            return True
        try:
            os.kill(-1, signal.SIGKILL)  # every process it may signal, not itself
        except ProcessLookupError:
            pass
        time.sleep(0.001)
    return False


class _GraderHidden:
    """A meta path finder: the initlab package (the reference, the kernel, the checks)
    is not importable by submission code, said as such. The sandbox does not hold its
    files either; this makes the attempt a clear error rather than a namespace package."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if fullname == "initlab" or fullname.startswith("initlab."):
            raise ModuleNotFoundError(GRADER_HIDDEN, name="initlab")
        return None


GRADER_HIDDEN = "initlab is the grader: submissions cannot use it while graded"


if __name__ == "__main__":
    sys.meta_path.insert(0, _GraderHidden)
    if sys.argv[1] == "--zygote":
        serve(int(sys.argv[2]), int(sys.argv[3]) if sys.argv[3] else None)
    else:
        run(Path(sys.argv[1]), int(sys.argv[2]))
