"""Grading one submission: run the student's functions in a child process, judge here.

The child (``initlab._child``) only calls the functions with inputs chosen here
and writes back what they returned; every verdict is computed in this process
by ``initlab.checks``, from those raw values. A submission is a folder holding
``initialization.py`` and/or ``propagation.py``, one ``.py`` file, or one
``.ipynb`` notebook whose code cells define the functions.
"""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from initlab.checks import Diagnosis, Foreign, Verdict
from initlab.checks.initializers import check_initializer, check_training
from initlab.checks.propagation import check_backward, check_forward, check_loss, check_update
from initlab.sandbox import MAX_CHANNEL_BYTES, ChildRun, launch, scratch
from initlab.sandbox import current as current_sandbox

# Points per student function: the rubric shared by the self-check and the graders.
RUBRIC = {
    "initialize_parameters_zeros": 10,
    "initialize_parameters_random": 10,
    "initialize_parameters_he": 15,
    "initialize_parameters_xavier": 10,
    "forward_propagation": 15,
    "compute_loss": 10,
    "backward_propagation": 20,
    "update_parameters": 10,
}
INITIALIZERS = [name for name in RUBRIC if name.startswith("initialize_parameters")]
MODULE_OF = {name: "initialization" if name in INITIALIZERS else "propagation" for name in RUBRIC}
# Networks for the propagation checks: (layers_dims, m). One layer, the course's
# three, and a deeper one with several outputs.
PROPAGATION_PROBLEMS = [([2, 10, 5, 1], 7), ([4, 6, 5, 4, 3], 9), ([3, 1], 4)]
LEARNING_RATE = 0.0075
INITIALIZER_DIMS = [[2, 10, 5, 1], [3, 2, 1], [2, 4, 1]]
# Layers large enough to measure the scale and shape of the weights' distribution.
MEASURED_DIMS = [300, 200, 100, 1]
DEFAULT_TIMEOUT = 10.0
DEFAULT_MEMORY_MB = 2048


class SubmissionError(ValueError):
    """A path that cannot be graded; the message is the one-line reason."""


@dataclass(frozen=True)
class Submission:
    kind: str  # "folder", "file" or "notebook"
    path: Path


def locate(path: Path) -> Submission:
    """The submission at path, or SubmissionError saying why it cannot be graded."""
    if not path.exists():
        raise SubmissionError(f"{path} does not exist")
    if path.is_dir():
        found = [n for n in ("initialization.py", "propagation.py") if (path / n).is_file()]
        if found:
            return Submission("folder", path.resolve())
        notebooks = sorted(path.glob("*.ipynb"))
        if len(notebooks) == 1:
            return locate(notebooks[0])
        if len(notebooks) > 1:
            raise SubmissionError(
                f"{path} holds {len(notebooks)} notebooks; expected one, or "
                "initialization.py / propagation.py"
            )
        raise SubmissionError(
            f"{path} holds neither initialization.py nor propagation.py nor a notebook"
        )
    if path.suffix == ".py":
        return Submission("file", path.resolve())
    if path.suffix == ".ipynb":
        try:
            notebook = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SubmissionError(f"{path} is not a readable notebook: {error}") from None
        if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
            raise SubmissionError(f"{path} is not a Jupyter notebook (no list of cells)")
        return Submission("notebook", path.resolve())
    raise SubmissionError(f"{path} is not a .py file, a .ipynb notebook or a folder")


@dataclass
class Step:
    """One call of a student function; args are {"literal": ...}, {"input": name}
    or {"result": step_id, "item": i}."""

    id: str
    function: str
    args: list[dict]
    keep: list[int] | None = None

    def plan(self) -> dict:
        entry = {
            "id": self.id,
            "module": MODULE_OF[self.function],
            "function": self.function,
            "args": self.args,
        }
        if self.keep is not None:
            entry["keep"] = self.keep
        return entry


@dataclass
class Outcome:
    """What one step gave: status "ok" (value), "not_implemented", "missing_function",
    "exception" (error) or "timeout"."""

    status: str
    value: object = None
    error: str = ""


@dataclass
class Run:
    """The outcomes of a plan, by step id."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    seconds: float = 0.0


def run(
    submission: Submission,
    steps: list[Step],
    inputs: dict[str, np.ndarray] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    memory_mb: int = DEFAULT_MEMORY_MB,
) -> Run:
    """Run the steps in child processes; a step that hangs is a timeout and the
    steps after it run in a fresh child. The child's address space is capped at
    memory_mb: an allocation past it fails with MemoryError in the student's code."""
    result = Run()
    start = time.perf_counter()
    remaining = list(steps)
    with scratch("grade") as work:
        workdir = Path(work)
        if inputs:
            np.savez(workdir / "inputs.npz", **inputs)
        while remaining:
            plan = {
                "kind": submission.kind,
                "path": str(submission.path),
                "memory_mb": memory_mb,
                "cpu_seconds": math.ceil(timeout) + 1,
                "steps": [step.plan() for step in _with_dependencies(remaining, steps)],
            }
            (workdir / "plan.json").write_text(json.dumps(plan))
            child = _run_child(workdir, submission.path, timeout)
            records, arrays = _received(child.frames)
            recorded = 0
            for step in remaining:
                if not isinstance(records.get(step.id), dict):
                    break
                result.outcomes[step.id] = _outcome(records[step.id], arrays)
                recorded += 1
            if recorded == len(remaining):
                break
            stuck = remaining[recorded]
            if child.timed_out:
                why = f"{stuck.function} did not finish in {timeout:g} s"
            elif child.overflowed:
                why = f"{stuck.function} sent more than {MAX_CHANNEL_BYTES} bytes of results"
            else:
                why = f"the process ended (exit code {child.code}) while running {stuck.function}"
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
                        "exception", error=f"needs the result of {stuck.function}, which failed"
                    )
            remaining = [s for s in remaining[recorded + 1 :] if s.id not in result.outcomes]
    result.seconds = time.perf_counter() - start
    return result


def _depends_on(step: Step, other: Step, steps: list[Step]) -> bool:
    by_id = {s.id: s for s in steps}
    for arg in step.args:
        if "result" in arg and (
            arg["result"] == other.id or _depends_on(by_id[arg["result"]], other, steps)
        ):
            return True
    return False


def _with_dependencies(remaining: list[Step], steps: list[Step]) -> list[Step]:
    """remaining, preceded by the earlier steps whose results they use."""
    needed = {s.id for s in remaining}
    for step in reversed(steps):
        if step.id in needed:
            needed.update(a["result"] for a in step.args if "result" in a)
    return [s for s in steps if s.id in needed]


def _run_child(workdir: Path, submission: Path, timeout: float) -> ChildRun:
    """One run of the child in this process's sandbox (``initlab.sandbox``): what it
    sent on its channel; its output is discarded, never read."""
    return launch(current_sandbox(), workdir, submission, timeout)


def _received(frames: list[tuple[dict, bytes]]) -> tuple[dict[str, object], dict[str, bytes]]:
    """The records by step id and the arrays' .npy bytes by name, from the child's frames."""
    records, arrays = {}, {}
    for header, body in frames:
        if header.get("kind") == "record" and isinstance(header.get("step"), str):
            records.setdefault(header["step"], header.get("record"))
        elif header.get("kind") == "array" and isinstance(header.get("name"), str):
            arrays[header["name"]] = body
    return records, arrays


def _outcome(record: dict, arrays: dict[str, bytes]) -> Outcome:
    status = record.get("status")
    if status == "ok":
        try:
            return Outcome("ok", _value(record.get("value", {}), arrays))
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
            # Student code can write to the channel too: a record can be forged.
            return Outcome("exception", error="its result record is malformed")
    if status in ("not_implemented", "missing_function"):
        return Outcome(status)
    return Outcome("exception", error=str(record.get("error", "unknown error")))


def _value(description: dict, arrays: dict[str, bytes]) -> object:
    """The value a step returned, rebuilt from its description; non-ndarray types
    come back as Foreign so the checks can name them."""
    kind = description.get("kind")
    if kind == "ndarray":
        return _load(arrays, description)
    if kind == "foreign":
        return Foreign(
            description["type"], _load(arrays, description) if "file" in description else None
        )
    if kind == "scalar":
        value = float(description["value"])
        # The child names types as module.qualname: a Python float is "builtins.float".
        return (
            value
            if description["type"] in ("builtins.float", "numpy.float64")
            else Foreign(description["type"], np.float64(value))
        )
    if kind == "dict":
        keys = description.get("keys", [])
        if any(not (k.startswith("'") and k.endswith("'")) for k in keys):
            return Foreign("dict with keys " + ", ".join(keys))
        return {k: _value(v, arrays) for k, v in description["items"].items()}
    if kind == "sequence":
        items = {int(i): _value(v, arrays) for i, v in description["items"].items()}
        return Foreign(description["type"], {"length": description["length"], "items": items})
    return Foreign(description.get("type", "unknown"))


def _load(arrays: dict[str, bytes], description: dict) -> np.ndarray | None:
    data = arrays.get(str(description.get("file")))
    if data is None:
        return None
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError):
        return None


def runner_verdict(name: str, outcome: Outcome | None, max_score: float) -> Verdict | None:
    """The verdict when the function could not be judged, else None."""
    if outcome is None or outcome.status == "ok":
        return None
    messages = {
        "not_implemented": (
            f"{name} is not implemented yet (it raises NotImplementedError)",
            "failed",
        ),
        "missing_function": (f"{name} is not defined in the submission", "failed"),
        "timeout": (outcome.error, "error"),
        "exception": (f"{name} raised {outcome.error}", "error"),
    }
    message, status = messages[outcome.status]
    return Verdict(name, max_score, 0.0, [Diagnosis(outcome.status, message)], status)


def hidden_dims(rng: np.random.Generator) -> list[list[int]]:
    """Layer sizes drawn fresh on every run: a deep and a wide network, and a random one."""
    deep = [int(n) for n in rng.integers(1, 40, size=int(rng.integers(6, 10)))]
    wide = [int(rng.integers(150, 400)), int(rng.integers(150, 400)), int(rng.integers(1, 20))]
    shuffled = [int(n) for n in rng.integers(1, 120, size=int(rng.integers(3, 6)))]
    return [deep, wide, shuffled]


def initializer_steps(hidden: bool, rng: np.random.Generator) -> list[Step]:
    dims = INITIALIZER_DIMS + [MEASURED_DIMS] + (hidden_dims(rng) if hidden else [])
    return [
        Step(f"{name}.{i}", name, [{"literal": d}])
        for name in INITIALIZERS
        for i, d in enumerate(dims)
    ]


@dataclass
class Problem:
    """Inputs of the propagation functions for one network."""

    X: np.ndarray
    Y: np.ndarray
    parameters: dict
    AL: np.ndarray  # an output for compute_loss, saturated in places
    grads: dict


def make_problem(dims: list[int], m: int, rng: np.random.Generator) -> Problem:
    parameters = {}
    for l in range(1, len(dims)):
        parameters[f"W{l}"] = rng.normal(size=(dims[l], dims[l - 1])) * 1.5 / np.sqrt(dims[l - 1])
        parameters[f"b{l}"] = rng.normal(size=(dims[l], 1)) * 0.3
    X = rng.normal(size=(dims[0], m))
    Y = (rng.random((dims[-1], m)) < 0.5).astype(np.float64)
    AL = rng.uniform(0.02, 0.98, size=Y.shape)
    AL.flat[0] = Y.flat[0]  # saturated on the right answer: 0 log 0 must not become nan
    grads = {f"d{k}": rng.normal(size=v.shape) for k, v in parameters.items()}
    return Problem(X, Y, parameters, AL, grads)


def propagation_problems(hidden: bool, rng: np.random.Generator) -> list[Problem]:
    fixed = np.random.default_rng(1)
    problems = [make_problem(dims, m, fixed) for dims, m in PROPAGATION_PROBLEMS]
    if hidden:
        for _ in range(3):
            depth = int(rng.integers(2, 7))
            dims = [int(n) for n in rng.integers(1, 13, size=depth)]
            problems.append(make_problem(dims, int(rng.integers(1, 20)), rng))
        problems.append(make_problem([int(rng.integers(20, 40)), 64, 1], 50, rng))
    return problems


def propagation_steps(problems: list[Problem]) -> tuple[list[Step], dict[str, np.ndarray]]:
    steps, inputs = [], {}

    def arrays(prefix: str, values: dict) -> dict:
        for key, value in values.items():
            inputs[f"{prefix}.{key}"] = value
        return {"dict": {key: {"input": f"{prefix}.{key}"} for key in values}}

    for i, p in enumerate(problems):
        inputs.update({f"X{i}": p.X, f"Y{i}": p.Y, f"AL{i}": p.AL})
        steps.append(
            Step(
                f"forward_propagation.{i}",
                "forward_propagation",
                [{"input": f"X{i}"}, arrays(f"P{i}", p.parameters)],
                keep=[0],
            )
        )
        steps.append(
            Step(f"compute_loss.{i}", "compute_loss", [{"input": f"AL{i}"}, {"input": f"Y{i}"}])
        )
        steps.append(
            Step(
                f"backward_propagation.{i}",
                "backward_propagation",
                [
                    {"input": f"X{i}"},
                    {"input": f"Y{i}"},
                    {"result": f"forward_propagation.{i}", "item": 1},
                ],
            )
        )
        steps.append(
            Step(
                f"update_parameters.{i}",
                "update_parameters",
                [
                    arrays(f"U{i}", p.parameters),
                    arrays(f"G{i}", p.grads),
                    {"literal": LEARNING_RATE},
                ],
            )
        )
    return steps, inputs


@dataclass
class Report:
    submission: str
    tests: list[Verdict]
    seconds: float = 0.0
    sandbox: str = ""  # how the student code was isolated: initlab.sandbox.Sandbox.description

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 6)

    @property
    def max_score(self) -> float:
        return float(sum(t.max_score for t in self.tests))

    def to_json(self) -> dict:
        return {
            "submission": self.submission,
            "score": self.score,
            "max_score": self.max_score,
            "sandbox": self.sandbox,
            "tests": [t.to_json() for t in self.tests],
        }


@dataclass
class Plan:
    """The calls of one grading run and what the checks need to judge their results."""

    steps: list[Step]
    inputs: dict[str, np.ndarray]
    problems: list[Problem]


def make_plan(hidden: bool = False, rng: np.random.Generator | None = None) -> Plan:
    """Every call of every student function; hidden adds networks drawn from rng."""
    rng = np.random.default_rng() if rng is None else rng
    problems = propagation_problems(hidden, rng)
    propagation, inputs = propagation_steps(problems)
    return Plan(initializer_steps(hidden, rng) + propagation, inputs, problems)


def judge_function(name: str, plan: Plan, outcomes: dict[str, Outcome]) -> Verdict:
    """The verdict on one student function from the outcomes of its calls."""
    points = RUBRIC[name]
    mine = [s for s in plan.steps if s.function == name]
    results = [outcomes.get(s.id) or Outcome("exception", error="no result") for s in mine]
    stopped = next((o for o in results if o.status != "ok"), None)
    verdict = runner_verdict(name, stopped, points)
    if verdict is None:
        return _judge(name, points, mine, [o.value for o in results], plan.problems)
    if name == "backward_propagation" and stopped.status == "exception":
        forward = outcomes.get(mine[0].id.replace("backward", "forward"))
        if forward is not None and forward.status != "ok":
            why = "" if stopped.error.startswith("needs the result") else f" ({stopped.error})"
            verdict.diagnoses[0] = Diagnosis(
                "exception",
                "backward_propagation could not be checked: it needs the cache of "
                f"forward_propagation, which did not return one{why}",
            )
    return verdict


def grade(
    path: Path,
    hidden: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    memory_mb: int = DEFAULT_MEMORY_MB,
) -> Report:
    """Grade the submission at path (SubmissionError when it cannot be graded)."""
    submission = locate(path)
    plan = make_plan(hidden)
    ran = run(submission, plan.steps, plan.inputs, timeout=timeout, memory_mb=memory_mb)
    tests = [judge_function(name, plan, ran.outcomes) for name in RUBRIC]
    return Report(str(path), tests, ran.seconds, current_sandbox().description)


def _judge(name: str, points: float, steps: list[Step], values: list, problems: list[Problem]):
    if name in INITIALIZERS:
        calls = [(s.args[0]["literal"], v) for s, v in zip(steps, values, strict=True)]
        verdict = check_initializer(name, calls, max_score=points)
        if verdict.status == "passed":
            # the course model trained from the student's own parameters
            problem = check_training(name, calls[0][1])
            if problem:
                verdict = Verdict(name, points, 0.0, [problem], "failed")
        return verdict
    pairs = list(zip(problems, values, strict=True))
    if name == "forward_propagation":
        return check_forward([(p.X, p.parameters, v) for p, v in pairs], points)
    if name == "compute_loss":
        return check_loss([(p.AL, p.Y, v) for p, v in pairs], points)
    if name == "backward_propagation":
        return check_backward([(p.X, p.Y, p.parameters, v) for p, v in pairs], points)
    return check_update([(p.parameters, p.grads, LEARNING_RATE, v) for p, v in pairs], points)
