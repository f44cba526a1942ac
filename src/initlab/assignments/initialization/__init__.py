"""The "Initialization" exercise: weight initialization (zeros, large random, He,
Xavier) and the forward and backward propagation of a dense ReLU network.

Its rubrics, the networks each function is called on, and how each is judged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from initlab import reference
from initlab.assignments.base import (
    Assignment,
    Function,
    Outcome,
    Plan,
    Step,
    runner_verdict,
)
from initlab.checks import Verdict
from initlab.checks.initializers import check_initializer, check_training
from initlab.checks.propagation import (
    check_backward,
    check_forward,
    check_loss,
    check_update,
    network,
)
from initlab.i18n import N_, _
from initlab.messages import checked_on, say

INITIALIZERS = [
    "initialize_parameters_zeros",
    "initialize_parameters_random",
    "initialize_parameters_he",
    "initialize_parameters_xavier",
]
PROPAGATION = ["forward_propagation", "compute_loss", "backward_propagation", "update_parameters"]
FUNCTIONS = tuple(Function(name, "initialization") for name in INITIALIZERS) + tuple(
    Function(name, "propagation") for name in PROPAGATION
)
RUBRICS = {
    # Everything the package's own notebook and stubs ask for: 100 points.
    "full": {
        "initialize_parameters_zeros": 10,
        "initialize_parameters_random": 10,
        "initialize_parameters_he": 15,
        "initialize_parameters_xavier": 10,
        "forward_propagation": 15,
        "compute_loss": 10,
        "backward_propagation": 20,
        "update_parameters": 10,
    },
    # The course's own notebook: its three graded functions, 10 points each.
    "course": {
        "initialize_parameters_zeros": 10,
        "initialize_parameters_random": 10,
        "initialize_parameters_he": 10,
    },
}
# Networks for the propagation checks: (layers_dims, m). One layer, the course's
# three, and a deeper one with several outputs.
PROPAGATION_PROBLEMS = [([2, 10, 5, 1], 7), ([4, 6, 5, 4, 3], 9), ([3, 1], 4)]
LEARNING_RATE = 0.0075
# The course's model and its published examples, and a network on whose every layer
# the usual scales (sqrt(2/n_{l-1}), sqrt(1/n_{l-1}), sqrt(2/n_l), sqrt(1/n_l),
# 2/n_{l-1}, 1/n_{l-1}, 1, 10) differ by 15% or more, so that one mistake explains it.
INITIALIZER_DIMS = [[2, 10, 5, 1], [3, 2, 1], [2, 4, 1], [3, 12, 8, 6]]
# Layers large enough to measure the scale and shape of the weights' distribution.
MEASURED_DIMS = [300, 200, 100, 1]


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
        for _draw in range(3):
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

    def cache(prefix: str, layers: list[tuple]) -> dict:
        """The cache backward_propagation is given: the reference's, so that a wrong
        forward_propagation costs only its own points."""
        entries = []
        for l, layer in enumerate(layers, start=1):
            for k, value in enumerate(layer):
                inputs[f"{prefix}.{l}.{k}"] = value
            entries.append({"tuple": [{"input": f"{prefix}.{l}.{k}"} for k in range(len(layer))]})
        return {"list": entries}

    for i, p in enumerate(problems):
        inputs.update({f"X{i}": p.X, f"Y{i}": p.Y, f"AL{i}": p.AL})
        steps.append(
            Step(
                f"forward_propagation.{i}",
                "forward_propagation",
                [{"input": f"X{i}"}, arrays(f"P{i}", p.parameters)],
                keep=[0, 1],
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
                    cache(f"C{i}", reference.layer_caches(p.X, p.parameters)),
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
    # backward_propagation on forward_propagation's own cache: when forward is wrong
    # and backward right, this tells whether backward reads what forward got wrong.
    steps += [
        Step(
            f"chained.{i}",
            "backward_propagation",
            [
                {"input": f"X{i}"},
                {"input": f"Y{i}"},
                {"result": f"forward_propagation.{i}", "item": 1},
            ],
            probe=True,
        )
        for i in range(len(problems))
    ]
    return steps, inputs


def make_plan(hidden: bool, rng: np.random.Generator) -> Plan:
    """Every call of every student function; hidden adds networks drawn from rng.
    The plan's context is its list of propagation problems."""
    problems = propagation_problems(hidden, rng)
    propagation, inputs = propagation_steps(problems)
    return Plan(initializer_steps(hidden, rng) + propagation, inputs, problems)


def judge(name: str, points: float, plan: Plan, outcomes: Mapping[str, Outcome]) -> Verdict:
    """The verdict on one student function from the outcomes of its calls."""
    mine = plan.steps_of(name)
    results = [outcomes.get(s.id) or Outcome("exception", error="no result") for s in mine]
    stopped = next((o for o in results if o.status != "ok"), None)
    verdict = runner_verdict(name, stopped, points)
    if verdict is None:
        verdict = _judge(name, points, mine, [o.value for o in results], plan.context)
        if name == "forward_propagation" and verdict.status != "passed":
            verdict.diagnoses += _chained(plan, outcomes)
        return verdict
    if stopped.status in ("exception", "timeout", "unavailable"):
        step = mine[results.index(stopped)]
        layer = re.match(r"KeyError: '(d?[WbAZ]\d+)'", stopped.error)
        if layer:  # the layers were written out by hand, for another network
            verdict.diagnoses = [
                say("exception.hard_coded", name=name, error=stopped.error, key=layer.group(1))
            ]
        where = _network_of(step, plan.context)
        verdict.diagnoses = [checked_on(d, where) for d in verdict.diagnoses]
    return verdict


def _chained(plan: Plan, outcomes: Mapping[str, Outcome]) -> list:
    """When backward_propagation is right with a correct cache but computes other
    gradients from forward_propagation's own cache: it reads what forward got wrong."""
    graded = [outcomes.get(s.id) for s in plan.steps_of("backward_propagation")]
    if not graded or any(o is None or o.status != "ok" for o in graded):
        return []
    calls = list(zip(plan.context, [o.value for o in graded], strict=True))
    if check_backward([(p.X, p.Y, p.parameters, v) for p, v in calls]).status != "passed":
        return []
    for step in (s for s in plan.steps if s.probe):
        problem = plan.context[int(step.id.rsplit(".", 1)[1])]
        outcome = outcomes.get(step.id)
        if outcome is None:
            continue
        if (
            outcome.status != "ok"
            or check_backward([(problem.X, problem.Y, problem.parameters, outcome.value)]).status
            != "passed"
        ):
            where = network(problem.parameters, problem.X)
            return [checked_on(say("backward_reads_forward"), where)]
    return []


def _network_of(step: Step, problems: list[Problem]) -> str:
    """The network a call ran on, as the student can rerun it."""
    if step.function in INITIALIZERS:
        return f"layers_dims = {step.args[0]['literal']}"
    problem = problems[int(step.id.rsplit(".", 1)[1])]
    return network(problem.parameters, problem.X)


def _judge(
    name: str, points: float, steps: list[Step], values: list, problems: list[Problem]
) -> Verdict:
    if name in INITIALIZERS:
        calls = [(s.args[0]["literal"], v) for s, v in zip(steps, values, strict=True)]
        verdict = check_initializer(name, calls, max_score=points)
        if verdict.status == "passed":
            # the course model trained from the student's own parameters
            problem = check_training(name, calls[0][1])
            if problem:
                where = _("layers_dims = {dims}, trained on the circles data").format(
                    dims=calls[0][0]
                )
                verdict = Verdict(name, points, 0.0, [checked_on(problem, where)], "failed")
        return verdict
    pairs = list(zip(problems, values, strict=True))
    if name == "forward_propagation":
        return check_forward([(p.X, p.parameters, v) for p, v in pairs], points)
    if name == "compute_loss":
        return check_loss([(p.AL, p.Y, v) for p, v in pairs], points)
    if name == "backward_propagation":
        return check_backward([(p.X, p.Y, p.parameters, v) for p, v in pairs], points)
    return check_update([(p.parameters, p.grads, LEARNING_RATE, v) for p, v in pairs], points)


ASSIGNMENT = Assignment(
    name="initialization",
    title="Initialization",
    functions=FUNCTIONS,
    rubrics=RUBRICS,
    planner=make_plan,
    judge=judge,
    notebook="Initialization.ipynb",
    demo="initlab.demo:main",
    demo_iterations=15000,
    rubric_help={
        "full": N_("all eight functions, 100 points"),
        "course": N_("the course notebook's zeros, random and He initialization, 30 points"),
    },
)
