"""What an assignment is: its functions, its rubrics, the calls to make and how each
function is judged. Everything else (locating a submission, running student code,
the ledger, the self-check, the CLI) is the same for every assignment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from initlab.checks import Verdict
from initlab.i18n import _


class UnknownName(ValueError):
    """An assignment or rubric that does not exist; the message lists those that do."""


@dataclass
class Step:
    """One call of a student function; args are {"literal": ...}, {"input": name}
    or {"result": step_id, "item": i}."""

    id: str
    function: str
    args: list[dict]
    keep: list[int] | None = None
    probe: bool = False  # a call that informs another function's verdict, not this one's
    seed: int | None = None  # np.random.seed(seed) just before the call
    optional: list[dict] | None = None  # more arguments, if the function takes them
    helpers: dict[str, str] | None = None  # name -> source of a correct helper, during the call

    def plan(self) -> dict:
        entry = {"id": self.id, "function": self.function, "args": self.args}
        for name in ("keep", "seed", "optional", "helpers"):
            if getattr(self, name) is not None:
                entry[name] = getattr(self, name)
        return entry


@dataclass
class Plan:
    """The calls of one grading run, their input arrays, and what the assignment's
    judges need to know about them (``context``: its own, opaque here)."""

    steps: list[Step]
    inputs: dict[str, np.ndarray]
    context: object = None

    def steps_of(self, name: str) -> list[Step]:
        """The calls that decide the verdict on name (not its probes)."""
        return [s for s in self.steps if s.function == name and not s.probe]

    def only(self, names: list[str]) -> Plan:
        """The plan reduced to the calls of names and the earlier calls they use."""
        wanted = [s for s in self.steps if s.function in names]
        return Plan(with_dependencies(wanted, self.steps), self.inputs, self.context)


def with_dependencies(wanted: list[Step], steps: list[Step]) -> list[Step]:
    """wanted, with the earlier steps whose results they use, in the order of steps."""
    needed = {s.id for s in wanted}
    for step in reversed(steps):
        if step.id in needed:
            needed.update(a["result"] for a in step.args if "result" in a)
    return [s for s in steps if s.id in needed]


@dataclass
class Outcome:
    """What one step gave: status "ok" (value), "not_implemented", "missing_function",
    "load_error" (the function's definition failed to load), "unavailable" (it used a
    name whose import cannot be satisfied while grading), "uses_grader" (it used
    initlab itself), "exception" (error) or "timeout"."""

    status: str
    value: object = None
    error: str = ""
    printed: str = ""  # what the call printed or warned, for the student to read


RUNNER_STATUSES = {
    "not_implemented": "failed",
    "missing_function": "failed",
    "load_error": "error",
    "unavailable": "error",
    "timeout": "error",
    "exception": "error",
    "uses_grader": "error",
}


def runner_verdict(name: str, outcome: Outcome | None, max_score: float) -> Verdict | None:
    """The verdict when the function could not be judged, else None."""
    if outcome is None or outcome.status == "ok":
        return None
    from initlab.messages import say

    status = outcome.status if outcome.status in RUNNER_STATUSES else "exception"
    if status == "missing_function" and outcome.error:
        diagnosis = say("missing_function.imported", name=name, why=outcome.error)
    elif status == "exception" and outcome.error.startswith(f"{name} "):
        # the runner's own account ("... sent more results than ..."), a sentence already
        diagnosis = say("exception.runner", error=outcome.error)
    else:
        diagnosis = say(status, name=name, error=outcome.error)
    return Verdict(name, max_score, 0.0, [diagnosis], RUNNER_STATUSES[status])


@dataclass(frozen=True)
class Function:
    """A function the student writes, and the stub module it lives in (``module.py``)."""

    name: str
    module: str


Judge = Callable[[str, float, Plan, Mapping[str, Outcome]], Verdict]
Planner = Callable[[bool, np.random.Generator], Plan]


@dataclass(frozen=True)
class Assignment:
    """One exercise: its functions, its rubrics (points per function), how to make
    the calls of a grading run (``planner``) and how to judge a function from the
    outcomes of its calls (``judge``). Its files live in the project under its name:
    ``graders/solutions/<name>/`` (the solutions), ``assignment/<name>/`` (what the
    students get) and ``graders/nbgrader/source/<name>/<notebook>`` (the course)."""

    name: str
    title: str
    functions: tuple[Function, ...]
    rubrics: Mapping[str, Mapping[str, float]]
    planner: Planner
    judge: Judge
    notebook: str
    default_rubric: str = "full"
    rubric_help: Mapping[str, str] = field(default_factory=dict)
    messages: Mapping[str, str] = field(default_factory=dict)  # its own catalog entries (en)
    # module -> source: the course's helper functions a graded function may call
    # (planar_utils.sigmoid), standing in when a submission does not hand the file in
    stand_ins: Mapping[str, str] = field(default_factory=dict)
    demo: str = ""  # "module:function" of its ``initlab demo``: function(out_dir, iterations)
    demo_iterations: int = 0  # the course's number of iterations, the demo's default

    def run_demo(self, out_dir: Path, iterations: int | None = None) -> None:
        import importlib

        module, function = self.demo.split(":")
        getattr(importlib.import_module(module), function)(
            out_dir, iterations or self.demo_iterations
        )

    def points(self, rubric: str | None = None) -> dict[str, float]:
        """The points of every function of rubric (default: the default rubric)."""
        rubric = rubric or self.default_rubric
        if rubric not in self.rubrics:
            raise UnknownName(
                _("the assignment {name} has no rubric {rubric}; its rubrics are {rubrics}").format(
                    name=repr(self.name), rubric=repr(rubric), rubrics=", ".join(self.rubrics)
                )
            )
        return dict(self.rubrics[rubric])

    def module_of(self, name: str) -> str:
        return next(f.module for f in self.functions if f.name == name)

    @property
    def modules(self) -> list[str]:
        """The stub modules, in the order of the functions."""
        return list(dict.fromkeys(f.module for f in self.functions))

    def make_plan(
        self,
        hidden: bool = False,
        rng: np.random.Generator | None = None,
        rubric: str | None = None,
    ) -> Plan:
        """Every call of the functions of rubric; hidden adds the checks drawn from rng."""
        plan = self.planner(hidden, np.random.default_rng() if rng is None else rng)
        return plan.only(list(self.points(rubric)))

    def judge_function(
        self, name: str, plan: Plan, outcomes: Mapping[str, Outcome], points: float
    ) -> Verdict:
        return self.judge(name, points, plan, outcomes)

    # Where its files are in a checkout of the project.
    def solutions_dir(self, root: Path) -> Path:
        return root / "graders" / "solutions" / self.name

    def student_dir(self, root: Path) -> Path:
        return root / "assignment" / self.name

    def course_notebook(self, course: Path) -> Path:
        return course / "source" / self.name / self.notebook
