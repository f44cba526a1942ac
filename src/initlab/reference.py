"""The numpy reference: the executable specification of the model.

An L-layer dense network, ``LINEAR -> g -> ... -> LINEAR -> SIGMOID``, with the
course's loss, backward pass and full-batch gradient descent, written the way
the course writes them. ``initlab.kernel`` computes the same three entry points
(`forward`, `gradients`, `train`) in C and is tested against this module.

Shapes: ``X`` is ``(n_0, m)``, ``Y`` is ``(n_L, m)``, ``W{l}`` is
``(n_l, n_{l-1})`` and ``b{l}`` is ``(n_l, 1)``.
"""

from __future__ import annotations

import numpy as np

from initlab._validation import (
    check_activation,
    check_labels,
    check_parameters,
    check_training_options,
    check_X,
)

__all__ = [
    "ACTIVATIONS",
    "LEAKY_RELU_SLOPE",
    "accuracy",
    "backward",
    "compute_loss",
    "forward",
    "forward_cache",
    "gradients",
    "initialize_parameters",
    "INITIALIZATIONS",
    "layer_caches",
    "predict",
    "train",
]

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu")
LEAKY_RELU_SLOPE = 0.01
INITIALIZATIONS = ("zeros", "random", "xavier", "he")


def sigmoid(z: np.ndarray) -> np.ndarray:
    """a = 1 / (1 + exp(-z))"""
    return 1 / (1 + np.exp(-z))


def _activate(z: np.ndarray, activation: str) -> np.ndarray:
    if activation == "relu":
        return np.maximum(0, z)
    if activation == "tanh":
        return np.tanh(z)
    if activation == "sigmoid":
        return sigmoid(z)
    return np.where(z > 0, z, LEAKY_RELU_SLOPE * z)


def _derivative(a: np.ndarray, activation: str) -> np.ndarray:
    """g'(z) written in terms of a = g(z), as the course does (relu: a > 0)."""
    if activation == "relu":
        return (a > 0).astype(np.float64)
    if activation == "tanh":
        return 1 - np.power(a, 2)
    if activation == "sigmoid":
        return a * (1 - a)
    return np.where(a > 0, 1.0, LEAKY_RELU_SLOPE)


def initialize_parameters(layers_dims: list[int], method: str, seed: int = 3) -> dict:
    """The course's initializations; ``W{l}`` of shape ``(n_l, n_{l-1})``, ``b{l} = 0``.

    zeros:  W = 0
    random: W = randn(n_l, n_{l-1}) * 10
    xavier: W = randn(n_l, n_{l-1}) * sqrt(1 / n_{l-1})
    he:     W = randn(n_l, n_{l-1}) * sqrt(2 / n_{l-1})

    The draws come from one legacy ``RandomState(seed)`` taken layer by layer,
    the same stream as the course's ``np.random.seed(3)`` followed by
    ``np.random.randn`` calls, without touching numpy's global state.
    """
    if method not in INITIALIZATIONS:
        raise ValueError(f"method is {method!r}; expected one of {', '.join(INITIALIZATIONS)}")
    dims = [int(n) for n in layers_dims]
    if len(dims) < 2 or any(n < 1 for n in dims):
        raise ValueError(f"layers_dims is {layers_dims!r}; expected at least two positive sizes")
    rng = np.random.RandomState(seed)
    parameters = {}
    for l in range(1, len(dims)):
        shape = (dims[l], dims[l - 1])
        if method == "zeros":
            W = np.zeros(shape)
        elif method == "random":
            W = rng.randn(*shape) * 10
        elif method == "xavier":
            W = rng.randn(*shape) * np.sqrt(1.0 / dims[l - 1])
        else:
            W = rng.randn(*shape) * np.sqrt(2.0 / dims[l - 1])
        parameters[f"W{l}"] = W
        parameters[f"b{l}"] = np.zeros((dims[l], 1))
    return parameters


def forward_cache(
    X: np.ndarray, parameters: dict, hidden_activation: str = "relu"
) -> list[np.ndarray]:
    """Activations ``[A0 = X, A1, ..., AL]``; ``A{l} = g(W{l} A{l-1} + b{l})``, sigmoid at L."""
    L = len(parameters) // 2
    activations = [X]
    A = X
    for l in range(1, L + 1):
        Z = np.dot(parameters[f"W{l}"], A) + parameters[f"b{l}"]
        A = sigmoid(Z) if l == L else _activate(Z, hidden_activation)
        activations.append(A)
    return activations


def layer_caches(X: np.ndarray, parameters: dict) -> list[tuple[np.ndarray, ...]]:
    """The assignment's cache: ``(A_prev, W, b, Z, A)`` per layer l = 1 .. L (relu, sigmoid)."""
    activations = forward_cache(X, parameters)
    L = len(parameters) // 2
    caches = []
    for l in range(1, L + 1):
        W, b = parameters[f"W{l}"], parameters[f"b{l}"]
        Z = np.dot(W, activations[l - 1]) + b
        caches.append((activations[l - 1], W, b, Z, activations[l]))
    return caches


def forward(X: np.ndarray, parameters: dict, hidden_activation: str = "relu") -> np.ndarray:
    """AL, shape ``(n_L, m)``."""
    check_activation(hidden_activation)
    check_X(X)
    check_parameters(parameters, n_x=X.shape[0])
    return forward_cache(X, parameters, hidden_activation)[-1]


def compute_loss(AL: np.ndarray, Y: np.ndarray) -> float:
    """loss = (1/m) nansum(-log(AL) Y - log(1 - AL) (1 - Y)).

    ``nansum``: a saturated unit whose label matches gives ``0 * inf = nan`` and
    is skipped; one whose label does not gives ``inf``, as in the course.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return _loss(AL, Y)


def _loss(AL: np.ndarray, Y: np.ndarray) -> float:
    """compute_loss without its floating-point error context (the caller sets it)."""
    m = Y.shape[1]
    logprobs = np.multiply(-np.log(AL), Y) + np.multiply(-np.log(1 - AL), 1 - Y)
    return float(1.0 / m * np.nansum(logprobs))


def backward(
    Y: np.ndarray, parameters: dict, activations: list[np.ndarray], hidden_activation: str = "relu"
) -> dict:
    """Gradients ``dW1, db1, ..., dWL, dbL`` of the loss.

    dZL = (1/m)(AL - Y); dW{l} = dZ{l} A{l-1}^T; db{l} = sum(dZ{l}, axis=1);
    dZ{l-1} = (W{l}^T dZ{l}) * g'(Z{l-1}). The 1/m is folded into dZL only.
    """
    L = len(parameters) // 2
    m = Y.shape[1]
    dW, db = [None] * (L + 1), [None] * (L + 1)
    dZ = 1.0 / m * (activations[L] - Y)
    for l in range(L, 0, -1):
        A_prev = activations[l - 1]
        dW[l] = np.dot(dZ, A_prev.T)
        db[l] = np.sum(dZ, axis=1, keepdims=True)
        if l > 1:
            dA_prev = np.dot(parameters[f"W{l}"].T, dZ)
            dZ = np.multiply(dA_prev, _derivative(A_prev, hidden_activation))
    grads = {}
    for l in range(1, L + 1):
        grads[f"dW{l}"] = dW[l]
        grads[f"db{l}"] = db[l]
    return grads


def gradients(
    X: np.ndarray, Y: np.ndarray, parameters: dict, hidden_activation: str = "relu"
) -> tuple[float, dict]:
    """(cost, grads) at ``parameters``; grads keys ``dW1, db1, ..., dWL, dbL``."""
    check_activation(hidden_activation)
    check_X(X)
    n_L = check_parameters(parameters, n_x=X.shape[0])[-1]
    Y = check_labels(Y, n_L, X.shape[1])
    activations = forward_cache(X, parameters, hidden_activation)
    cost = compute_loss(activations[-1], Y)
    return cost, backward(Y, parameters, activations, hidden_activation)


def train(
    X: np.ndarray,
    Y: np.ndarray,
    parameters: dict,
    *,
    learning_rate: float = 0.01,
    num_iterations: int = 15000,
    record_every: int = 1000,
    hidden_activation: str = "relu",
) -> tuple[dict, np.ndarray]:
    """Full-batch gradient descent; W -= lr dW, b -= lr db.

    Returns the trained parameters (the ones passed in are not changed) and the
    costs at iterations 0, record_every, ..., each computed from the forward pass
    before that iteration's update.
    """
    check_activation(hidden_activation)
    check_X(X)
    n_L = check_parameters(parameters, n_x=X.shape[0])[-1]
    Y = check_labels(Y, n_L, X.shape[1])
    check_training_options(learning_rate, num_iterations, record_every)
    parameters = {key: np.array(value, dtype=np.float64) for key, value in parameters.items()}
    costs = []
    # One error context for the loop, not one per iteration: log(0) of a saturated
    # unit is expected (the loss is inf), as is exp overflow in the sigmoid.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for i in range(num_iterations):
            cost = _iterate(X, Y, parameters, learning_rate, hidden_activation)
            if i % record_every == 0:
                costs.append(cost)
    return parameters, np.array(costs, dtype=np.float64)


def _iterate(X, Y, parameters, learning_rate, hidden_activation) -> float:
    """One step of gradient descent on parameters (replaced, not mutated); the cost before it."""
    L = len(parameters) // 2
    activations = forward_cache(X, parameters, hidden_activation)
    cost = _loss(activations[-1], Y)
    grads = backward(Y, parameters, activations, hidden_activation)
    for l in range(1, L + 1):
        parameters[f"W{l}"] = parameters[f"W{l}"] - learning_rate * grads[f"dW{l}"]
        parameters[f"b{l}"] = parameters[f"b{l}"] - learning_rate * grads[f"db{l}"]
    return cost


def predict(AL: np.ndarray) -> np.ndarray:
    """Labels ``AL > 0.5`` (strict), as integers."""
    return (AL > 0.5).astype(np.int64)


def accuracy(AL: np.ndarray, Y: np.ndarray) -> float:
    """Fraction of units and examples where ``predict(AL)`` equals ``Y``."""
    return float(np.mean(predict(AL) == Y))
