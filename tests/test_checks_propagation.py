"""The propagation checks grade the grader: right answers in any style pass, each mistake gets its code."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from initlab import reference
from initlab.assignments.initialization import propagation_problems
from initlab.checks.propagation import check_backward, check_forward, check_loss, check_update

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location(
    "solution_propagation", ROOT / "graders" / "solutions" / "initialization" / "propagation.py"
)
solution = importlib.util.module_from_spec(spec)
spec.loader.exec_module(solution)


@pytest.fixture(autouse=True)
def quiet_numpy():
    """Student code takes log(0) on the saturated unit: numpy warns, the checks do not care."""
    with np.errstate(all="ignore"):
        yield


@pytest.fixture(scope="module")
def problems():
    """The public problems, and hidden ones drawn fresh (deep, wide, random sizes)."""
    return propagation_problems(hidden=True, rng=np.random.default_rng())


def forward_calls(problems, forward):
    return [(p.X, p.parameters, forward(p.X, p.parameters)) for p in problems]


def backward_calls(problems, backward):
    """backward_propagation called as the grader calls it: with the reference's cache."""
    return [
        (p.X, p.Y, p.parameters, backward(p.X, p.Y, reference.layer_caches(p.X, p.parameters)))
        for p in problems
    ]


def update_calls(problems, update, learning_rate=0.0075):
    """What update_parameters returns on a copy of each problem's parameters."""
    return [
        (
            p.parameters,
            p.grads,
            learning_rate,
            update({k: v.copy() for k, v in p.parameters.items()}, p.grads, learning_rate),
        )
        for p in problems
    ]


def codes(verdict):
    return [d.code for d in verdict.diagnoses]


# --- a second correct style: matrix operators, np.where, a tuple cache ---------


def forward_other_style(X, parameters):
    L = len(parameters) // 2
    cache = []
    A = X
    for l in range(1, L + 1):
        W, b = parameters[f"W{l}"], parameters[f"b{l}"]
        Z = W @ A + b
        A_next = np.where(Z > 0, Z, 0.0) if l < L else 1 / (1 + np.exp(-Z))
        cache.append((A, W, b, Z, A_next))
        A = A_next
    return A, tuple(cache)


def backward_other_style(X, Y, cache):
    L = len(cache)
    m = X.shape[1]
    grads = {}
    dZ = (cache[-1][4] - Y) / m
    for l in range(L, 0, -1):
        A_prev, W, _, _, _ = cache[l - 1]
        grads[f"dW{l}"] = dZ @ A_prev.T
        grads[f"db{l}"] = dZ.sum(axis=1, keepdims=True)
        dZ = (W.T @ dZ) * (cache[l - 2][3] > 0) if l > 1 else dZ
    return grads


def loss_other_style(AL, Y):
    m = Y.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.nansum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m


def update_in_place(parameters, grads, learning_rate):
    for key in parameters:
        parameters[key] -= learning_rate * grads["d" + key]
    return parameters


def test_the_solution_and_another_style_pass(problems):
    for forward, backward in (
        (solution.forward_propagation, solution.backward_propagation),
        (forward_other_style, backward_other_style),
    ):
        verdict = check_forward(forward_calls(problems, forward))
        assert verdict.status == "passed", verdict.message
        verdict = check_backward(backward_calls(problems, backward))
        assert verdict.status == "passed", verdict.message
    for loss in (solution.compute_loss, loss_other_style):
        verdict = check_loss([(p.AL, p.Y, loss(p.AL, p.Y)) for p in problems])
        assert verdict.status == "passed", verdict.message
    for update in (solution.update_parameters, update_in_place):
        verdict = check_update(update_calls(problems, update))
        assert verdict.status == "passed", verdict.message


# --- forward mistakes ---------------------------------------------------------


def forward_with(hidden, output, bias=True):
    def forward(X, parameters):
        L = len(parameters) // 2
        A = X
        for l in range(1, L + 1):
            Z = np.dot(parameters[f"W{l}"], A) + (parameters[f"b{l}"] if bias else 0)
            A = output(Z) if l == L else hidden(Z)
        return A, None

    return forward


RELU = lambda z: np.maximum(0, z)  # noqa: E731
SIGMOID = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731


@pytest.mark.parametrize(
    "forward, code, words",
    [
        (forward_with(SIGMOID, SIGMOID), "hidden_activation_wrong", ["sigmoid", "relu"]),
        (forward_with(RELU, RELU), "output_activation_wrong", ["relu", "sigmoid"]),
        (forward_with(RELU, lambda z: z), "output_activation_wrong", ["no activation"]),
        (forward_with(RELU, SIGMOID, bias=False), "forward_wrong", ["AL", "expected"]),
        (
            forward_with(RELU, SIGMOID),
            "cache_wrong",
            ["cache is a NoneType", "(A_prev, W, b, Z, A)"],
        ),
        (lambda X, p: (forward_with(RELU, SIGMOID)(X, p)[0].T, None), "forward_wrong", ["shape"]),
        (lambda X, p: forward_with(RELU, SIGMOID)(X, p)[0], "forward_wrong", ["pair (AL, cache)"]),
    ],
)
def test_forward_mistakes(problems, forward, code, words):
    verdict = check_forward(forward_calls(problems, forward))
    assert codes(verdict) == [code], verdict.message
    for word in words:
        assert word in verdict.message


# --- loss mistakes ------------------------------------------------------------


def loss_with(reduce, scale=True, sign=1):
    def loss(AL, Y):
        m = Y.shape[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            logprobs = np.multiply(-np.log(AL), Y) + np.multiply(-np.log(1 - AL), 1 - Y)
        return sign * (1.0 / m if scale else 1.0) * reduce(logprobs)

    return loss


@pytest.mark.parametrize(
    "loss, words",
    [
        (loss_with(np.sum), ["nansum"]),
        (loss_with(np.nansum, scale=False), ["divided by m"]),
        (loss_with(np.nansum, sign=-1), ["sign"]),
    ],
)
def test_loss_mistakes(problems, loss, words):
    verdict = check_loss([(p.AL, p.Y, loss(p.AL, p.Y)) for p in problems])
    assert codes(verdict) == ["loss_wrong"], verdict.message
    for word in words:
        assert word in verdict.message


# --- backward mistakes --------------------------------------------------------


def backward_with(
    scale_dZ=True, transpose_dW=False, mask=lambda A: A > 0, keepdims=True, db_mean=False
):
    def backward(X, Y, cache):
        m = X.shape[1]
        L = len(cache)
        grads = {}
        dZ = (1.0 / m if scale_dZ else 1.0) * (cache[L - 1][4] - Y)
        for l in range(L, 0, -1):
            A_prev, W = cache[l - 1][0], cache[l - 1][1]
            grads[f"dW{l}"] = np.dot(A_prev, dZ.T) if transpose_dW else np.dot(dZ, A_prev.T)
            reduce = np.mean if db_mean else np.sum
            grads[f"db{l}"] = reduce(dZ, axis=1, keepdims=keepdims)
            dZ = np.dot(W.T, dZ) * mask(A_prev)
        return grads

    return backward


@pytest.mark.parametrize(
    "backward, code, words",
    [
        (backward_with(scale_dZ=False), "grad_missing_1_over_m", ["factor m"]),
        (backward_with(transpose_dW=True), "grad_transposed", ["transposed", "dW"]),
        (backward_with(mask=lambda A: 1.0), "relu_derivative_wrong", ["left out"]),
        (backward_with(mask=lambda A: A), "relu_derivative_wrong", ["A itself"]),
        (backward_with(keepdims=False), "db_shape", ["keepdims"]),
        (backward_with(db_mean=True), "grad_wrong", ["db", "centred difference"]),
    ],
)
def test_backward_mistakes(problems, backward, code, words):
    verdict = check_backward(backward_calls(problems, backward))
    assert codes(verdict) == [code], verdict.message
    for word in words:
        assert word in verdict.message


def test_grad_wrong_names_the_tensor_and_shows_the_numeric_gradient(problems):
    def only_dW2_wrong(X, Y, cache):
        grads = solution.backward_propagation(X, Y, cache)
        if "dW2" in grads:
            grads["dW2"] = grads["dW2"] * 1.5
        return grads

    verdict = check_backward(backward_calls(problems, only_dW2_wrong))
    assert codes(verdict) == ["grad_wrong"]
    assert verdict.message.startswith("dW2 is wrong")


# --- update mistakes ----------------------------------------------------------


@pytest.mark.parametrize(
    "update, words",
    [
        (lambda p, g, lr: {k: v + lr * g["d" + k] for k, v in p.items()}, ["up the gradient"]),
        (lambda p, g, lr: {k: v - g["d" + k] for k, v in p.items()}, ["learning rate"]),
        (lambda p, g, lr: p, ["not updated"]),
        (lambda p, g, lr: list(p.values()), ["expected the parameters dict"]),
    ],
)
def test_update_mistakes(problems, update, words):
    verdict = check_update(update_calls(problems, update))
    assert codes(verdict) == ["update_wrong"], verdict.message
    for word in words:
        assert word in verdict.message
