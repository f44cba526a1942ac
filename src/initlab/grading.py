"""Grading one submission: run the student's functions in a child process, judge here.

The child (``initlab._child``) loads the submission's files by the rules of
``initlab._loader``, only calls the functions with inputs chosen here and writes
back what they returned; every verdict is computed in this process by the
assignment's judges (``initlab.assignments``), from those raw values. A
submission is a folder holding the assignment's modules (``initialization.py``,
``propagation.py``) and/or its notebook, one ``.py`` file, or one notebook; the
``.py`` files beside a notebook or a file go with it, importable by it.
"""

from __future__ import annotations

import io
import json
import math
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from initlab import _loader, assignments
from initlab._text import plain
from initlab.assignments.base import Assignment, Outcome, Plan, Step, with_dependencies
from initlab.checks import Foreign, Verdict
from initlab.i18n import N_, _, language, lookup
from initlab.sandbox import (
    MAX_BYTES,
    MAX_CHANNEL_BYTES,
    MAX_FILES,
    MAX_FRAMES,
    ChildRun,
    launch,
    scratch,
    submission_files,
)
from initlab.sandbox import current as current_sandbox

DEFAULT_TIMEOUT = 10.0
DEFAULT_MEMORY_MB = 2048
# The .py files that go with a notebook or a file graded alone (its helpers), at most.
MAX_HELPERS = 50
MAX_HELPER_BYTES = 2 * 1024 * 1024
# Statements that ended the process while it loaded the submission: each is skipped
# in a fresh run (costing only what it defines), this many at most.
MAX_SKIPPED = 8
MAX_PRINTED = 4000  # characters of what a function printed that its verdict keeps


class SubmissionError(ValueError):
    """A path that cannot be graded; the message is the one-line reason."""


@dataclass(frozen=True)
class Submission:
    """What to grade: the folder the child gets (a copy of), the files in it that
    are graded, in order of preference (the assignment's modules, then the
    notebook, then another .py file), and for a file graded alone the files that
    go with it (None: the whole folder)."""

    path: Path
    root: Path
    sources: tuple[str, ...]
    files: tuple[str, ...] | None = None

    def preference(self, assignment: Assignment, function: str) -> list[str]:
        """The graded files in the order a function is looked for in them."""
        own = f"{assignment.module_of(function)}.py"
        notebooks = [s for s in self.sources if s.endswith(".ipynb")]
        first = [own] if own in self.sources else []
        return first + notebooks + [s for s in self.sources if s not in first + notebooks]


def locate(path: Path, assignment: Assignment | None = None) -> Submission:
    """The submission at path, or SubmissionError saying why it cannot be graded."""
    assignment = assignment or assignments.get()
    if not path.exists():
        raise SubmissionError(_("{path} does not exist").format(path=path))
    # A link could point into another student's folder: what is graded is what is there.
    _not_a_link(path)
    if path.is_dir():
        submission = _folder(path.resolve(), assignment)
    elif path.suffix == ".py":
        submission = _alone(path.resolve())
    elif path.suffix == ".ipynb":
        _check_notebook(path)
        submission = _alone(path.resolve())
    else:
        raise SubmissionError(
            _("{path} is not a .py file, a .ipynb notebook or a folder").format(path=path)
        )
    _check_size(submission)
    return submission


def _not_a_link(path: Path) -> None:
    if path.is_symlink():
        raise SubmissionError(
            _("{path} is a symbolic link; a submission is graded from its files").format(path=path)
        )


def _check_size(submission: Submission) -> None:
    """The caps of a submission sent to the sandbox, as in bulk grading."""
    root = submission.root
    files = (
        [root / name for name in submission.files]
        if submission.files is not None
        else list(submission_files(root))
    )
    if len(files) > MAX_FILES or sum(f.stat().st_size for f in files) > MAX_BYTES:
        raise SubmissionError(
            _("{path} holds more than {files} files or {bytes} bytes").format(
                path=submission.path, files=MAX_FILES, bytes=MAX_BYTES
            )
        )


def _folder(path: Path, assignment: Assignment) -> Submission:
    modules = [f"{m}.py" for m in assignment.modules if (path / f"{m}.py").is_file()]
    notebooks = sorted(p.name for p in path.glob("*.ipynb") if p.is_file())
    if len(notebooks) > 1:
        named = [n for n in notebooks if n == assignment.notebook]
        if named:
            notebooks = named
        elif modules:
            notebooks = []
        else:
            raise SubmissionError(
                _(
                    "{path} holds {count} notebooks ({names}); expected one, or one named "
                    "{notebook}"
                ).format(
                    path=path,
                    count=len(notebooks),
                    names=", ".join(notebooks),
                    notebook=assignment.notebook,
                )
            )
    for name in modules + notebooks:
        _not_a_link(path / name)
    if notebooks and not modules:
        _check_notebook(path / notebooks[0])
    if not modules and not notebooks:
        files = " / ".join(f"{m}.py" for m in assignment.modules)
        raise SubmissionError(
            _("{path} holds neither {files} nor a notebook").format(path=path, files=files)
        )
    return Submission(path, path, tuple(modules + notebooks))


def _alone(path: Path) -> Submission:
    """A file graded on its own, with the .py files beside it (its helpers)."""
    helpers = []
    for other in sorted(path.parent.glob("*.py")):
        if other == path:
            continue
        _not_a_link(other)
        if not other.is_file():
            continue
        if len(helpers) < MAX_HELPERS and other.stat().st_size <= MAX_HELPER_BYTES:
            helpers.append(other.name)
    return Submission(path, path.parent, (path.name,), (path.name, *helpers))


def _check_notebook(path: Path) -> None:
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SubmissionError(
            _("{path} is not a readable notebook: {error}").format(path=path, error=error)
        ) from None
    except RecursionError:
        raise SubmissionError(
            _("{path} is not a readable notebook: nested too deeply").format(path=path)
        ) from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise SubmissionError(
            _("{path} is not a Jupyter notebook (no list of cells)").format(path=path)
        )


@dataclass
class Run:
    """The outcomes of a plan by step id, and the file each function came from."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def run(
    submission: Submission,
    steps: list[Step],
    inputs: dict[str, np.ndarray] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    memory_mb: int = DEFAULT_MEMORY_MB,
    assignment: Assignment | None = None,
) -> Run:
    """Run the steps in child processes; a step that hangs is a timeout and the
    steps after it run in a fresh child. The child's address space is capped at
    memory_mb: an allocation past it fails with MemoryError in the student's code."""
    assignment = assignment or assignments.get()
    result = Run()
    start = time.perf_counter()
    remaining = list(steps)
    skip: dict[str, str] = {}
    with scratch("grade") as work:
        workdir = Path(work)
        folder = _folder_for(submission, workdir)
        if inputs:
            np.savez(workdir / "inputs.npz", **inputs)
        while remaining:
            todo = with_dependencies(remaining, steps)
            functions = list(dict.fromkeys(s.function for s in todo))
            plan = {
                "path": str(folder),
                "sources": list(submission.sources),
                "functions": {f: submission.preference(assignment, f) for f in functions},
                "skip": skip,
                "stand_ins": dict(assignment.stand_ins),
                "memory_mb": memory_mb,
                # Each function has timeout seconds for all its calls (the child stops
                # it); the run as a whole, that for each function and for the loading.
                "function_seconds": timeout,
                "cpu_seconds": math.ceil(timeout * (len(functions) + 1)) + 1,
                "steps": [step.plan() for step in todo],
            }
            if language() != "en":  # the child's loader speaks the grader's language
                plan["messages"] = loader_messages()
            (workdir / "plan.json").write_text(json.dumps(plan))
            child = _run_child(workdir, folder, timeout * (len(functions) + 1), loading=timeout)
            received = _received(child.frames, submission.sources)
            for name, source in received.sources.items():
                result.sources.setdefault(name, source)
            recorded = 0
            for step in remaining:
                if not isinstance(received.records.get(step.id), dict):
                    break
                result.outcomes[step.id] = _outcome(received.records[step.id], received.arrays)
                recorded += 1
            if recorded == len(remaining):
                break
            how = (
                _("did not finish in {seconds:g} s").format(seconds=timeout)
                if child.timed_out
                else _("ended the process (exit code {code})").format(code=child.code)
            )
            if not received.loaded:
                # It died while the files were loaded: skip the statement it was at
                # (costing what it defines) and load again; or give up on the rest.
                at = received.loading
                if at and at["statement"] not in skip and len(skip) < MAX_SKIPPED:
                    skip[at["statement"]] = _("{how} while it was loaded").format(how=how)
                    continue
                if at:
                    error = _("the submission ({where}) {how} while it was loaded").format(
                        where=at["label"], how=how
                    )
                else:
                    error = _("the submission {how} while it was loaded").format(how=how)
                for step in remaining:
                    result.outcomes[step.id] = Outcome("load_error", error=error)
                break
            stuck = remaining[recorded]
            if child.timed_out:
                why = _("{function} did not finish in {seconds:g} s").format(
                    function=stuck.function, seconds=timeout
                )
            elif child.overflowed:
                why = _(
                    "{function} sent more results than the grader reads from one run "
                    "({mib} MiB or {frames} frames)"
                ).format(function=stuck.function, mib=MAX_CHANNEL_BYTES // 2**20, frames=MAX_FRAMES)
            else:
                why = _("the process ended (exit code {code}) while running {function}").format(
                    code=child.code, function=stuck.function
                )
            result.outcomes[stuck.id] = Outcome(
                "timeout" if child.timed_out else "exception", error=why
            )
            # The function's other calls would do the same: they share its outcome, so a
            # submission whose every function hangs costs one timeout per function.
            for step in remaining[recorded + 1 :]:
                if step.function == stuck.function:
                    result.outcomes[step.id] = result.outcomes[stuck.id]
                elif _depends_on(step, stuck, steps):
                    result.outcomes[step.id] = Outcome(
                        "exception",
                        error=_("needs the result of {function}, which failed").format(
                            function=stuck.function
                        ),
                    )
            remaining = [s for s in remaining[recorded + 1 :] if s.id not in result.outcomes]
    result.seconds = time.perf_counter() - start
    return result


def _folder_for(submission: Submission, workdir: Path) -> Path:
    """The folder the child gets: the submission's own, or for a file graded alone a
    copy holding it and the files that go with it."""
    if submission.files is None:
        return submission.root
    folder = workdir / "submission"
    folder.mkdir()
    for name in submission.files:
        shutil.copyfile(submission.root / name, folder / name)
    return folder


def _depends_on(step: Step, other: Step, steps: list[Step]) -> bool:
    by_id = {s.id: s for s in steps}
    for arg in step.args:
        if "result" in arg and (
            arg["result"] == other.id or _depends_on(by_id[arg["result"]], other, steps)
        ):
            return True
    return False


def _run_child(
    workdir: Path, submission: Path, timeout: float, loading: float | None = None
) -> ChildRun:
    """One run of the child in this process's sandbox (``initlab.sandbox``): what it
    sent on its channel; its output is discarded, never read. It has loading seconds
    to load the submission and timeout for the whole run."""
    return launch(current_sandbox(), workdir, submission, timeout, loading)


@dataclass
class Received:
    """What a run of the child said on its channel. Student code can write there
    too, so every field is checked for its type before use."""

    records: dict[str, object] = field(default_factory=dict)
    arrays: dict[str, bytes] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # function -> graded file
    loaded: bool = False  # the child finished loading the files
    loading: dict | None = None  # the last statement it started loading, until loaded


def _received(frames: list[tuple[dict, bytes]], sources: tuple[str, ...] = ()) -> Received:
    """The records by step id, the arrays' .npy bytes by name, and what the child said
    of loading the submission, from the child's frames."""
    got = Received()
    for header, body in frames:
        kind = header.get("kind")
        if kind == "record" and isinstance(header.get("step"), str):
            got.records.setdefault(header["step"], header.get("record"))
        elif kind == "array" and isinstance(header.get("name"), str):
            got.arrays[header["name"]] = body
        elif kind == "loading" and not got.loaded and _is_loading(header):
            got.loading = header
        elif kind == "loaded":
            got.loaded = True
        elif kind == "sources" and isinstance(header.get("functions"), dict) and not got.sources:
            got.sources = {str(k): v for k, v in header["functions"].items() if v in sources}
    return got


def _is_loading(header: dict) -> bool:
    defines = header.get("defines")
    return (
        isinstance(header.get("statement"), str)
        and isinstance(header.get("label"), str)
        and isinstance(defines, list)
        and all(isinstance(name, str) for name in defines)
    )


def _outcome(record: dict, arrays: dict[str, bytes]) -> Outcome:
    """A step's outcome from its record, with what the call printed. Student code can
    write to the channel too, so a record can be forged: whatever it holds, the result
    is an outcome, and a value the grader cannot take is the student's error, with the
    reason."""
    if not isinstance(record, dict):
        return Outcome("exception", error=_("its result record is malformed"))
    outcome = _judged_outcome(record, arrays)
    printed = record.get("printed")
    if isinstance(printed, str):
        outcome.printed = printed[:MAX_PRINTED]
    return outcome


def _judged_outcome(record: dict, arrays: dict[str, bytes]) -> Outcome:
    status = record.get("status")
    if status == "ok":
        try:
            return Outcome("ok", _value(record.get("value", {}), arrays))
        except Unreadable as error:
            return Outcome("exception", error=_("it returned {what}").format(what=error))
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError):
            return Outcome("exception", error=_("its result record is malformed"))
    error = record.get("error", "")
    error = plain(error[:2000], one_line=False) if isinstance(error, str) else _("unknown error")
    if status in ("unavailable", "exception", "load_error") and _uses_grader(error):
        return Outcome("uses_grader", error=_(USES_GRADER))
    if status in ("not_implemented", "missing_function", "load_error", "unavailable", "timeout"):
        return Outcome(status, error=error)
    return Outcome("exception", error=error or _("unknown error"))


USES_GRADER = N_("it uses initlab, the grader's own code, which a submission may not use")
# How the child says an import of initlab failed: its loader's placeholder, the finder
# that hides the package, or Python's own message where the package is simply absent.
_GRADER_IMPORT = re.compile(
    r"(?<![\w.])initlab (?:is not available while grading|could not be imported|is the grader)"
    r"|No module named 'initlab[.']"
)


def _uses_grader(error: str) -> bool:
    if _GRADER_IMPORT.search(error) is not None:
        return True
    # The child's loader said it in the grader's language.
    return language() != "en" and any(said in error for said in _grader_import_said())


def _grader_import_said() -> list[str]:
    """How the child's loader, in the current language, begins to say that an import of
    initlab failed."""
    messages = loader_messages()
    said = [messages["loader.not_available"].format(module="initlab")]
    for key in ("loader.needs", "loader.import_failed"):
        before, after = messages[key].split("{module}", 1)
        said.append(before + "initlab" + after.split("{", 1)[0])
    return said


def loader_messages() -> dict[str, str]:
    """The child's loader messages in the current language, by id."""
    return {key: lookup(key, english) for key, english in _loader.MESSAGES.items()}


class Unreadable(ValueError):
    """A returned value the grader does not take; the message says what it was."""


# How deep a description of a returned value may nest (the child writes two levels).
MAX_VALUE_DEPTH = 4
# The kinds of array the checks judge: booleans, integers and floating point numbers.
ARRAY_KINDS = "biuf"
# Types the child describes by kind, never as "other": a value of kind "other" that
# claims one is an object whose class lies about its name.
DESCRIBED_TYPES = {"builtins.dict", "builtins.float", "builtins.int", "builtins.bool",
                   "numpy.ndarray"}  # fmt: skip
SEQUENCES = {"builtins.tuple", "builtins.list"}


def _type(description: dict) -> str:
    name = description.get("type", "unknown")
    if not isinstance(name, str):
        raise TypeError("a type name that is not text")
    return plain(name)[:200]


def _value(description: dict, arrays: dict[str, bytes], depth: int = 0) -> object:
    """The value a step returned, rebuilt from its description; non-ndarray types
    come back as Foreign so the checks can name them (a tuple or a list always with
    its length and items, which is what the checks read of one)."""
    if not isinstance(description, dict) or depth > MAX_VALUE_DEPTH:
        raise TypeError("not a description of a value")
    kind = description.get("kind")
    if kind == "ndarray":
        return _load(arrays, description)
    if kind == "foreign":
        name = _type(description)
        array = _load(arrays, description) if "file" in description else None
        if name in SEQUENCES:  # its values as an array too, when it had any
            length = 0 if array is None or array.ndim == 0 else len(array)
            return Foreign(name, {"length": length, "items": {}, "array": array})
        return Foreign(name, array)
    if kind == "scalar":
        value = description["value"]
        if type(value) not in (int, float):
            raise TypeError("a scalar that is not a number")
        value = float(value)
        # The child names types as module.qualname: a Python float is "builtins.float".
        name = _type(description)
        if name in SEQUENCES or name in ("builtins.dict", "numpy.ndarray"):
            raise Unreadable(_("a number whose class claims to be {name}").format(name=name))
        return (
            value
            if name in ("builtins.float", "numpy.float64")
            else Foreign(name, np.float64(value))
        )
    if kind == "dict":
        keys, items = description.get("keys", []), description["items"]
        if not isinstance(keys, list) or not isinstance(items, dict):
            raise TypeError("a dict without its keys and items")
        if not all(isinstance(k, str) for k in keys):
            raise TypeError("keys that are not their repr")
        keys = [plain(k)[:200] for k in keys]
        if any(not (k.startswith("'") and k.endswith("'")) for k in keys):
            return Foreign("dict with keys " + ", ".join(keys))
        return {str(k): _value(v, arrays, depth + 1) for k, v in items.items()}
    if kind == "sequence":
        length, items = description["length"], description["items"]
        if type(length) is not int or not isinstance(items, dict):
            raise TypeError("a sequence without its length and items")
        name = _type(description)
        if name not in SEQUENCES:
            raise TypeError("a sequence that is neither a tuple nor a list")
        items = {int(i): _value(v, arrays, depth + 1) for i, v in items.items()}
        return Foreign(name, {"length": length, "items": items})
    name = _type(description)
    if name in DESCRIBED_TYPES:
        raise Unreadable(_("an object whose class claims to be {name}").format(name=name))
    if name in SEQUENCES:
        # A list the child could not send (ragged, or of objects): its items are unknown.
        return Foreign(name, {"length": 0, "items": {}})
    return Foreign(name)


def _load(arrays: dict[str, bytes], description: dict) -> np.ndarray | None:
    """The array of a description from its .npy bytes, read here rather than by np.load:
    its header is checked against the bytes that came before anything is allocated,
    and only the dtypes the checks judge are taken (Unreadable otherwise)."""
    data = arrays.get(str(description.get("file")))
    if data is None:
        return None
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version in ((2, 0), (3, 0)):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            return None
    except Exception:  # noqa: BLE001 - numpy's header parser, on forged text, raises anything
        return None
    if dtype.kind not in ARRAY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise Unreadable(
            _("an array of dtype {dtype}, not numbers").format(dtype=plain(str(dtype))[:100])
        )
    if any(size < 0 for size in shape):
        return None
    count = math.prod(shape)
    body = data[stream.tell() :]
    if count * dtype.itemsize != len(body):
        return None  # its header claims another size than the bytes sent: cut short or forged
    array = np.frombuffer(body, dtype=dtype, count=count)
    return array.reshape(shape, order="F" if fortran_order else "C").copy()


@dataclass
class Report:
    submission: str
    tests: list[Verdict]
    seconds: float = 0.0
    sandbox: str = ""  # how the student code was isolated: initlab.sandbox.Sandbox.description
    assignment: str = assignments.DEFAULT
    rubric: str = "full"

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 6)

    @property
    def max_score(self) -> float:
        return float(sum(t.max_score for t in self.tests))

    def to_json(self) -> dict:
        return {
            "submission": self.submission,
            "assignment": self.assignment,
            "rubric": self.rubric,
            "score": self.score,
            "max_score": self.max_score,
            "sandbox": self.sandbox,
            "tests": [t.to_json() for t in self.tests],
        }


def judge_all(
    assignment: Assignment,
    points: Mapping[str, float],
    plan: Plan,
    outcomes: Mapping[str, Outcome],
    sources: Mapping[str, str] | None = None,
) -> list[Verdict]:
    """The verdict on every function of the rubric, each naming the file it came from."""
    tests = []
    for name, worth in points.items():
        verdict = assignment.judge_function(name, plan, outcomes, worth)
        verdict.source = (sources or {}).get(name, "")
        verdict.output = printed_by([outcomes.get(s.id) for s in plan.steps_of(name)])
        tests.append(verdict)
    return tests


def printed_by(outcomes: list[Outcome | None]) -> str:
    """What a function printed over its calls: each distinct text once, with a count."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        if outcome is not None and outcome.printed:
            counts[outcome.printed] = counts.get(outcome.printed, 0) + 1
    parts = [
        text if n == 1 else text.rstrip() + "\n" + _("(the same on {n} calls)").format(n=n) + "\n"
        for text, n in counts.items()
    ]
    return "".join(parts)[:MAX_PRINTED]


def grade(
    path: Path,
    hidden: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    memory_mb: int = DEFAULT_MEMORY_MB,
    assignment: str | None = None,
    rubric: str | None = None,
) -> Report:
    """Grade the submission at path for the assignment's rubric (SubmissionError when
    it cannot be graded; assignments.UnknownName for an unknown assignment or rubric)."""
    task = assignments.get(assignment)
    rubric = rubric or task.default_rubric
    points = task.points(rubric)
    submission = locate(path, task)
    plan = task.make_plan(hidden, rubric=rubric)
    ran = run(submission, plan.steps, plan.inputs, timeout, memory_mb, task)
    tests = judge_all(task, points, plan, ran.outcomes, ran.sources)
    return Report(str(path), tests, ran.seconds, current_sandbox().description, task.name, rubric)
