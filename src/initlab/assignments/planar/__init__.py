"""The "Planar data classification with one hidden layer" exercise (the
shallow-network lecture): a tanh hidden layer and a sigmoid output, written by the
student function by function, then trained by their own ``nn_model``.

Its rubric, the calls made (every one on networks the student cannot guess: the
sizes and data of the hidden checks are drawn afresh), and how each is judged
(``checks``). Messages of its own are in ``MESSAGES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from initlab.assignments.base import Assignment, Function, Outcome, Plan, Step, runner_verdict
from initlab.assignments.planar import checks
from initlab.checks import Verdict
from initlab.i18n import N_
from initlab.messages import checked_on

FUNCTIONS = tuple(
    Function(name, "planar")
    for name in (
        "layer_sizes",
        "initialize_parameters",
        "forward_propagation",
        "compute_cost",
        "backward_propagation",
        "update_parameters",
        "nn_model",
        "predict",
    )
)
RUBRICS = {
    "full": {
        "layer_sizes": 5,
        "initialize_parameters": 10,
        "forward_propagation": 15,
        "compute_cost": 10,
        "backward_propagation": 20,
        "update_parameters": 10,
        "nn_model": 20,
        "predict": 10,
    },
}
INIT_SEED = 2  # the grader seeds before initialize_parameters: both editions' conventions
TRAIN_ITERATIONS = 40  # nn_model is compared on a short run (SPEC section 5)


@dataclass
class Problem:
    """One network and its data: n_x inputs, n_h tanh units, one sigmoid output."""

    X: np.ndarray
    Y: np.ndarray
    parameters: dict
    grads: dict

    @property
    def sizes(self) -> tuple[int, int, int]:
        return self.X.shape[0], self.parameters["W1"].shape[0], self.Y.shape[0]

    def where(self) -> str:
        n_x, n_h, n_y = self.sizes
        return f"n_x = {n_x}, n_h = {n_h}, n_y = {n_y}, m = {self.X.shape[1]}"


def make_problem(n_x: int, n_h: int, m: int, rng: np.random.Generator) -> Problem:
    parameters = {
        "W1": rng.normal(size=(n_h, n_x)) * 0.8,
        "b1": rng.normal(size=(n_h, 1)) * 0.3,
        "W2": rng.normal(size=(1, n_h)) * 0.8,
        "b2": rng.normal(size=(1, 1)) * 0.3,
    }
    X = rng.normal(size=(n_x, m))
    Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    grads = {f"d{k}": rng.normal(size=v.shape) * 0.1 for k, v in parameters.items()}
    return Problem(X, Y, parameters, grads)


def make_plan(hidden: bool, rng: np.random.Generator) -> Plan:
    """Every call of every function; hidden adds problems of sizes drawn from rng."""
    fixed = np.random.default_rng(5)
    problems = [make_problem(2, 4, 9, fixed), make_problem(3, 5, 6, fixed)]
    if hidden:
        for _ in range(2):
            n_x, n_h, m = (int(v) for v in rng.integers((1, 1, 2), (9, 12, 40)))
            problems.append(make_problem(n_x, n_h, m, rng))
    inputs: dict[str, np.ndarray] = {}

    def array(name: str, value: np.ndarray) -> dict:
        inputs[name] = value
        return {"input": name}

    def arrays(prefix: str, values: dict) -> dict:
        return {"dict": {k: array(f"{prefix}.{k}", v) for k, v in values.items()}}

    steps = []
    for i, p in enumerate(problems):
        X, Y = array(f"X{i}", p.X), array(f"Y{i}", p.Y)
        n_x, n_h, n_y = p.sizes
        m = p.X.shape[1]
        A2, cache = checks.reference_forward(p.X, p.parameters)
        steps += [
            Step(
                f"layer_sizes.{i}", "layer_sizes", [X, array(f"Y2{i}", np.zeros((2, p.X.shape[1])))]
            ),
            Step(
                f"initialize_parameters.{i}",
                "initialize_parameters",
                [{"literal": n_x}, {"literal": n_h}, {"literal": n_y}],
                seed=INIT_SEED,
            ),
            Step(
                f"forward_propagation.{i}",
                "forward_propagation",
                [X, arrays(f"P{i}", p.parameters)],
                keep=[0, 1],
            ),
            Step(
                f"compute_cost.{i}",
                "compute_cost",
                [array(f"A2{i}", A2), Y],
                optional=[arrays(f"Q{i}", p.parameters)],
            ),
            Step(
                f"backward_propagation.{i}",
                "backward_propagation",
                [arrays(f"B{i}", p.parameters), arrays(f"C{i}", cache), X, Y],
            ),
            Step(
                f"update_parameters.{i}",
                "update_parameters",
                [arrays(f"U{i}", p.parameters), arrays(f"G{i}", p.grads)],
            ),
            Step(
                f"update_parameters.rate.{i}",
                "update_parameters",
                [arrays(f"V{i}", p.parameters), arrays(f"H{i}", p.grads), {"literal": 0.5}],
            ),
            Step(
                f"nn_model.{i}",
                "nn_model",
                [X, Y, {"literal": n_h}, {"literal": TRAIN_ITERATIONS}],
                helpers=checks.HELPERS,
            ),
            Step(f"predict.{i}", "predict", [arrays(f"R{i}", p.parameters), X]),
        ]
    # Outputs of exactly 0.5 (zero output weights): the course predicts 0 there.
    half = dict(problems[0].parameters, W2=np.zeros((1, 4)), b2=np.zeros((1, 1)))
    steps.append(Step("predict.half", "predict", [arrays("Rh", half), {"input": "X0"}]))
    return Plan(steps, inputs, {"problems": problems, "half": half})


def judge(name: str, points: float, plan: Plan, outcomes: Mapping[str, Outcome]) -> Verdict:
    """The verdict on one function from the outcomes of its calls."""
    mine = plan.steps_of(name)
    results = [outcomes.get(s.id) or Outcome("exception", error="no result") for s in mine]
    stopped = next((o for o in results if o.status != "ok"), None)
    verdict = runner_verdict(name, stopped, points)
    problems = plan.context["problems"]
    if verdict is not None:
        step = mine[results.index(stopped)]
        if stopped.status in ("exception", "timeout", "unavailable") and step.id[-1].isdigit():
            where = problems[int(step.id.rsplit(".", 1)[1])].where()
            verdict.diagnoses = [checked_on(d, where) for d in verdict.diagnoses]
        return verdict
    values = {s.id: o.value for s, o in zip(mine, results, strict=True)}
    return checks.judge(name, points, values, problems, plan.context["half"])


ASSIGNMENT = Assignment(
    name="planar",
    title="Planar data classification with one hidden layer",
    functions=FUNCTIONS,
    rubrics=RUBRICS,
    planner=make_plan,
    judge=judge,
    notebook="Planar_data_classification.ipynb",
    demo="initlab.assignments.planar.demo:main",
    demo_iterations=10000,
    rubric_help={"full": N_("all eight functions of the planar exercise, 100 points")},
    messages=checks.MESSAGES,
    stand_ins={"planar_utils": checks.PLANAR_UTILS},
)
