"""The checks of the planar exercise: the expected values from ``initlab.reference``
(tanh hidden layer, sigmoid output), and a diagnosis for each mistake students make
in it (the tanh derivative, the 1/m, A1 for X in dW1, the learning rate, the
threshold of predict, weights too large or seeded otherwise)."""

from __future__ import annotations

import numpy as np

from initlab import reference
from initlab.checks import Diagnosis, Foreign, Verdict, type_name
from initlab.checks.propagation import close
from initlab.messages import checked_on, say, text

LEARNING_RATE = 1.2
SCALE = 0.01
KEYS = ("W1", "b1", "W2", "b2")
CREDIT_WRONG_SEED = 0.8
CREDIT_BIAS = 0.5
OTHER_RATES = (0.01, 0.0075, 0.1, 0.5, 1.0, 2.0)

MESSAGES = {
    "layer_sizes_wrong": "returned {value}; expected (n_x, n_h, n_y) = {expected}: {why}",
    "layer_sizes_wrong.hard_coded": "n_x and n_y come from X.shape[0] and Y.shape[0]",
    "layer_sizes_wrong.n_h": "the course's hidden layer has n_h = 4 units",
    "layer_sizes_wrong.type": "returned a {type}; expected the tuple (n_x, n_h, n_y)",
    "wrong_keys.planar": "the dict is missing {missing}; the parameters are {keys}",
    "scale_one": (
        "{key} is np.random.randn(...) without * 0.01: with weights this large tanh "
        "saturates (its derivative 1 - A1^2 is near 0) and learning is slow; multiply by 0.01"
    ),
    "scale_wrong.planar": "{key} is scaled by {measured:.4g}; the course uses 0.01",
    "wrong_seed.planar": (
        "the weights are not the values np.random.seed(2) gives: draw W1 and then W2 with "
        "np.random.randn, once each (the course's test seeds the generator with "
        "np.random.seed(2) before the call; a np.random.seed(2) inside gives the same)"
    ),
    "tanh_derivative_wrong": (
        "dZ1 uses {how}; the derivative of tanh is 1 - A1^2: dZ1 = W2^T dZ2 * (1 - A1**2)"
    ),
    "tanh_derivative_wrong.z": "1 - Z1**2 (Z1 where A1 = tanh(Z1) belongs)",
    "tanh_derivative_wrong.sigmoid": "the sigmoid's derivative A1 * (1 - A1)",
    "tanh_derivative_wrong.none": "no derivative at all",
    "grad_missing_1_over_m.planar": (
        "every gradient is off by a factor m = {m}: divide dW and db by m once "
        "(dW2 = (1/m) dZ2 A1^T ...)"
    ),
    "dW1_uses_A1": (
        "dW1 has shape {shape}: it is computed from A1; dW1 = (1/m) dZ1 X^T, with X, the "
        "input of layer 1"
    ),
    "learning_rate_wrong": (
        "{what} uses learning_rate = {rate:g}; the course's is 1.2 "
        "(update_parameters(parameters, grads, learning_rate=1.2))"
    ),
    "learning_rate_ignored": (
        "update_parameters(parameters, grads, 0.5) steps with learning_rate 1.2: the "
        "learning_rate argument is not used"
    ),
    "nn_model_wrong": (
        "after {iterations} iterations {key}{index} is {value!r}, expected {expected!r}: "
        "np.random.seed(3), initialize_parameters, then forward, cost, backward and "
        "update_parameters at learning rate 1.2 in each iteration"
    ),
    "predict_threshold": (
        "predict gives 1 where A2 is exactly 0.5: the course predicts 1 only above it, "
        "predictions = A2 > 0.5 (not >=)"
    ),
    "predict_wrong": "predictions{index} is {value!r}, expected {expected!r} (A2 > 0.5)",
    "predict_wrong.shape": "the predictions have shape {shape}; expected (1, m) = {expected}",
    "hidden_activation_wrong.planar": (
        "the hidden layer uses {activation}; this network's hidden layer uses tanh, "
        "A1 = np.tanh(Z1)"
    ),
    "cache_wrong.planar": (
        "A2 is right but the cache ({type}) is not the dict {{Z1, A1, Z2, A2}} of the "
        "forward pass, which backward_propagation reads"
    ),
    "grad_wrong.planar": "{key}{index} is {value!r}; the gradient is {expected!r}",
    "update_wrong.every": "the parameters",
}

# The course's planar_utils as far as graded functions use it: its sigmoid.
PLANAR_UTILS = "import numpy as np\n\n\ndef sigmoid(x):\n    return 1 / (1 + np.exp(-x))\n"

# Correct helpers for nn_model's call, so that it is judged on its own loop.
HELPERS = {
    "layer_sizes": "def layer_sizes(X, Y):\n    return (X.shape[0], 4, Y.shape[0])\n",
    "initialize_parameters": (
        "def initialize_parameters(n_x, n_h, n_y):\n"
        "    W1 = np.random.randn(n_h, n_x) * 0.01\n"
        "    W2 = np.random.randn(n_y, n_h) * 0.01\n"
        "    return {'W1': W1, 'b1': np.zeros((n_h, 1)), 'W2': W2, 'b2': np.zeros((n_y, 1))}\n"
    ),
    "forward_propagation": (
        "def forward_propagation(X, parameters):\n"
        "    Z1 = np.dot(parameters['W1'], X) + parameters['b1']\n"
        "    A1 = np.tanh(Z1)\n"
        "    Z2 = np.dot(parameters['W2'], A1) + parameters['b2']\n"
        "    A2 = 1 / (1 + np.exp(-Z2))\n"
        "    return A2, {'Z1': Z1, 'A1': A1, 'Z2': Z2, 'A2': A2}\n"
    ),
    "compute_cost": (
        "def compute_cost(A2, Y, parameters=None):\n"
        "    m = Y.shape[1]\n"
        "    return float(-np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)) / m)\n"
    ),
    "backward_propagation": (
        "def backward_propagation(parameters, cache, X, Y):\n"
        "    m = X.shape[1]\n"
        "    dZ2 = cache['A2'] - Y\n"
        "    dZ1 = np.dot(parameters['W2'].T, dZ2) * (1 - cache['A1'] ** 2)\n"
        "    return {'dW1': np.dot(dZ1, X.T) / m, 'db1': np.sum(dZ1, axis=1, keepdims=True) / m,\n"
        "            'dW2': np.dot(dZ2, cache['A1'].T) / m,\n"
        "            'db2': np.sum(dZ2, axis=1, keepdims=True) / m}\n"
    ),
    "update_parameters": (
        "def update_parameters(parameters, grads, learning_rate=1.2):\n"
        "    return {k: parameters[k] - learning_rate * grads['d' + k] for k in parameters}\n"
    ),
}


def reference_forward(X: np.ndarray, parameters: dict) -> tuple[np.ndarray, dict]:
    """A2 and the course's cache {Z1, A1, Z2, A2} (tanh, then sigmoid)."""
    Z1 = np.dot(parameters["W1"], X) + parameters["b1"]
    A1 = np.tanh(Z1)
    Z2 = np.dot(parameters["W2"], A1) + parameters["b2"]
    A2 = reference.sigmoid(Z2)
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def _backward(parameters, cache, X, Y, derivative="tanh", scale=1.0) -> dict:
    m = X.shape[1]
    dZ2 = cache["A2"] - Y
    slope = {
        "tanh": 1 - cache["A1"] ** 2,
        "z": 1 - cache["Z1"] ** 2,
        "sigmoid": cache["A1"] * (1 - cache["A1"]),
        "none": 1.0,
    }[derivative]
    dZ1 = np.dot(parameters["W2"].T, dZ2) * slope
    grads = {
        "dW1": np.dot(dZ1, X.T) / m,
        "db1": np.sum(dZ1, axis=1, keepdims=True) / m,
        "dW2": np.dot(dZ2, cache["A1"].T) / m,
        "db2": np.sum(dZ2, axis=1, keepdims=True) / m,
    }
    return {k: v * scale for k, v in grads.items()}


def _trained(X, Y, n_h, seed, rate=LEARNING_RATE, iterations=40) -> dict:
    rng = np.random.RandomState(seed)
    n_x, n_y = X.shape[0], Y.shape[0]
    parameters = {
        "W1": rng.randn(n_h, n_x) * SCALE,
        "b1": np.zeros((n_h, 1)),
        "W2": rng.randn(n_y, n_h) * SCALE,
        "b2": np.zeros((n_y, 1)),
    }
    trained, _ = reference.train(
        X,
        Y,
        parameters,
        learning_rate=rate,
        num_iterations=iterations,
        record_every=iterations,
        hidden_activation="tanh",
    )
    return trained


def _verdict(name, points, diagnoses, credit=0.0) -> Verdict:
    if not diagnoses:
        return Verdict(name, points, points, [], "passed")
    return Verdict(name, points, round(points * credit, 6), diagnoses, "failed")


def _array(value, key) -> tuple[np.ndarray | None, Diagnosis | None]:
    if type(value) is not np.ndarray:
        return None, say("not_ndarray.propagation", key=key, type=type_name(value))
    if value.dtype != np.float64:
        return None, say("wrong_dtype", key=key, dtype=str(value.dtype))
    return value, None


def _dict(value, keys, what) -> tuple[dict | None, Diagnosis | None]:
    """value's arrays under keys, or the diagnosis of what is wrong with the dict."""
    if not isinstance(value, dict):
        return None, say("grad_wrong.type", type=type_name(value), keys=", ".join(keys))
    missing = ", ".join(k for k in keys if k not in value)
    if missing and what == "grads":
        return None, say("grad_wrong.missing", keys=missing)
    if missing:
        return None, say("wrong_keys.planar", missing=missing, keys=", ".join(keys))
    arrays = {}
    for key in keys:
        array, problem = _array(value[key], key)
        if problem:
            return None, problem
        arrays[key] = array
    return arrays, None


def judge(name, points, values, problems, half) -> Verdict:
    """The verdict on name from the values its calls returned (by step id)."""
    check = {
        "layer_sizes": _layer_sizes,
        "initialize_parameters": _initialize,
        "forward_propagation": _forward,
        "compute_cost": _cost,
        "backward_propagation": _backward_check,
        "update_parameters": _update,
        "nn_model": _nn_model,
    }.get(name)
    if name == "predict":
        return _predict(points, values, problems, half)
    for i, problem in enumerate(problems):
        found = check(values, i, problem)
        if found:
            diagnoses, credit = found
            where = problem.where()
            return _verdict(name, points, [checked_on(d, where) for d in diagnoses], credit)
    return _verdict(name, points, [])


def _layer_sizes(values, i, problem):
    value = values[f"layer_sizes.{i}"]
    expected = (problem.X.shape[0], 4, 2)
    items = _values(value)
    if not isinstance(items, np.ndarray) or items.shape != (3,):
        return [say("layer_sizes_wrong.type", type=type_name(value))], 0.0
    got = tuple(int(v) for v in items)
    if got == expected:
        return None
    why = (
        "layer_sizes_wrong.n_h"
        if got[0] == expected[0] and got[2] == 2
        else "layer_sizes_wrong.hard_coded"
    )
    return [say("layer_sizes_wrong", value=got, expected=expected, why=text(why))], 0.0


def _initialize(values, i, problem):
    n_x, n_h, n_y = problem.sizes
    value = values[f"initialize_parameters.{i}"]
    shapes = {"W1": (n_h, n_x), "b1": (n_h, 1), "W2": (n_y, n_h), "b2": (n_y, 1)}
    got, problem_found = _dict(value, KEYS, "parameters")
    if problem_found:
        return [problem_found], 0.0
    for key, shape in shapes.items():
        if got[key].shape != shape:
            if got[key].shape == shape[::-1] and key.startswith("W"):
                l = int(key[1])
                return [
                    say("transposed", l=l, l_prev=l - 1, shape=got[key].shape, expected=shape)
                ], 0.0
            return [
                say("grad_wrong.shape", key=key, shape=got[key].shape, expected=shape, of=key)
            ], 0.0
    diagnoses, credit = [], 1.0
    for key in ("b1", "b2"):
        if got[key].any():
            diagnoses.append(
                say("bias_not_zero", l=int(key[1]), largest=float(np.max(np.abs(got[key]))))
            )
            credit = CREDIT_BIAS
            break
    rng = np.random.RandomState(2)
    draws = {"W1": rng.randn(n_h, n_x), "W2": rng.randn(n_y, n_h)}
    if diagnoses:  # drawn with randn: each bias draw comes after its weights
        rng = np.random.RandomState(2)
        with_biases = {"W1": rng.randn(n_h, n_x)}
        rng.randn(n_h, 1)
        with_biases["W2"] = rng.randn(n_y, n_h)
        if all(close(got[k], SCALE * with_biases[k]) for k in ("W1", "W2")):
            return [say("bias_not_zero.drawn")], CREDIT_BIAS
    if all(close(got[k], SCALE * draws[k]) for k in ("W1", "W2")):
        return (diagnoses, credit) if diagnoses else None
    for key in ("W1", "W2"):
        Z = draws[key]
        c = float(np.dot(got[key].ravel(), Z.ravel()) / np.dot(Z.ravel(), Z.ravel()))
        if close(got[key], c * Z) and not np.isclose(c, SCALE):
            message = "scale_one" if np.isclose(abs(c), 1.0) else "scale_wrong.planar"
            return diagnoses + [say(message, key=key, measured=c)], 0.2 * credit
    small = max(float(np.max(np.abs(got[k]))) for k in ("W1", "W2")) < 10 * SCALE * 5
    return diagnoses + [say("wrong_seed.planar")], (CREDIT_WRONG_SEED if small else 0.0) * credit


def _forward(values, i, problem):
    value = values[f"forward_propagation.{i}"]
    if not (isinstance(value, Foreign) and type_name(value) in ("tuple", "list")):
        return [say("forward_wrong.not_a_pair", type=type_name(value))], 0.0
    items = value.array["items"]
    A2, problem_found = _array(items.get(0), "A2")
    if problem_found:
        return [problem_found], 0.0
    expected, cache = reference_forward(problem.X, problem.parameters)
    if A2.shape != expected.shape:
        return [
            say(
                "forward_wrong.shape",
                shape=A2.shape,
                expected=expected.shape,
                x_shape=problem.X.shape,
                layers=2,
            )
        ], 0.0
    if not close(A2, expected):
        p = problem.parameters
        hidden_layers = (
            ("relu", lambda z: np.maximum(0, z)),
            ("sigmoid", reference.sigmoid),
            ("no activation", lambda z: z),
        )
        for hidden, function in hidden_layers:
            A1 = function(np.dot(p["W1"], problem.X) + p["b1"])
            if close(A2, reference.sigmoid(np.dot(p["W2"], A1) + p["b2"])):
                return [say("hidden_activation_wrong.planar", activation=hidden)], 0.0
        Z2 = np.dot(p["W2"], cache["A1"]) + p["b2"]
        for output, function in (("tanh", np.tanh), ("no activation", lambda z: z)):
            if close(A2, function(Z2)):
                return [say("output_activation_wrong", activation=output)], 0.0
        worst = tuple(int(j) for j in np.unravel_index(np.argmax(np.abs(A2 - expected)), A2.shape))
        return [
            say(
                "forward_wrong",
                layers=2,
                index=list(worst),
                value=float(A2[worst]),
                expected=float(expected[worst]),
            )
        ], 0.0
    got = items.get(1)
    if not isinstance(got, dict) or any(
        type(got.get(k)) is not np.ndarray or not close(got[k], cache[k]) for k in cache
    ):
        return [say("cache_wrong.planar", type=type_name(got))], 0.5
    return None


def _cost(values, i, problem):
    value = values[f"compute_cost.{i}"]
    if isinstance(value, np.ndarray) and value.size == 1:
        value = float(value.reshape(()))
    if not isinstance(value, float):
        return [say("loss_wrong.type", type=type_name(value))], 0.0
    A2, _ = reference_forward(problem.X, problem.parameters)
    m = problem.Y.shape[1]
    expected = float(-np.sum(problem.Y * np.log(A2) + (1 - problem.Y) * np.log(1 - A2)) / m)
    if abs(value - expected) <= 1e-9 * abs(expected):
        return None
    for candidate, why in (
        (expected * m, "loss_wrong.not_divided"),
        (-expected, "loss_wrong.sign"),
    ):
        if abs(value - candidate) <= 1e-9 * abs(candidate):
            return [say("loss_wrong.hint", value=value, expected=expected, why=text(why))], 0.0
    return [say("loss_wrong", value=value, shape=A2.shape, expected=expected)], 0.0


def _backward_check(values, i, problem):
    keys = ("dW1", "db1", "dW2", "db2")
    got, problem_found = _dict(values[f"backward_propagation.{i}"], keys, "grads")
    if problem_found:
        return [problem_found], 0.0
    _, cache = reference_forward(problem.X, problem.parameters)
    args = (problem.parameters, cache, problem.X, problem.Y)
    expected = _backward(*args)
    m = problem.X.shape[1]
    for key in keys:
        want = expected[key]
        if got[key].shape == want.shape:
            continue
        if key == "dW1" and got[key].shape == (want.shape[0], want.shape[0]):
            return [say("dW1_uses_A1", shape=got[key].shape)], 0.0
        if key.startswith("db"):
            return [say("db_shape", key=key, shape=got[key].shape, expected=want.shape)], 0.0
        if got[key].shape == want.shape[::-1]:
            return [
                say(
                    "grad_transposed",
                    key=key,
                    shape=got[key].shape,
                    expected=want.shape,
                    of=key[1:],
                )
            ], 0.0
        return [
            say("grad_wrong.shape", key=key, shape=got[key].shape, expected=want.shape, of=key[1:])
        ], 0.0
    if all(close(got[k], expected[k]) for k in keys):
        return None
    for scale in (m, 1 / m):
        if all(close(got[k], scale * expected[k]) for k in keys):
            return [say("grad_missing_1_over_m.planar", m=m)], 0.0
    for derivative in ("z", "sigmoid", "none"):
        variant = _backward(*args, derivative=derivative)
        if all(close(got[k], variant[k]) for k in keys):
            how = text(f"tanh_derivative_wrong.{derivative}")
            return [say("tanh_derivative_wrong", how=how)], 0.0
    key = next(k for k in keys if not close(got[k], expected[k]))
    index = tuple(
        int(j)
        for j in np.unravel_index(np.argmax(np.abs(got[key] - expected[key])), got[key].shape)
    )
    return [
        say(
            "grad_wrong.planar",
            key=key,
            index=list(index),
            value=float(got[key][index]),
            expected=float(expected[key][index]),
        )
    ], 0.0


def _update(values, i, problem):
    for step, rate in (
        (f"update_parameters.{i}", LEARNING_RATE),
        (f"update_parameters.rate.{i}", 0.5),
    ):
        got, problem_found = _dict(values[step], KEYS, "parameters")
        if problem_found:
            return [problem_found], 0.0
        p, g = problem.parameters, problem.grads
        if all(close(got[k], p[k] - rate * g["d" + k]) for k in KEYS):
            continue
        if rate == 0.5 and all(close(got[k], p[k] - LEARNING_RATE * g["d" + k]) for k in KEYS):
            return [say("learning_rate_ignored")], 0.0
        for other in OTHER_RATES:
            if all(close(got[k], p[k] - other * g["d" + k]) for k in KEYS):
                return [say("learning_rate_wrong", what="update_parameters", rate=other)], 0.0
        if all(close(got[k], p[k] + rate * g["d" + k]) for k in KEYS):
            return [say("update_wrong", key="W1", why=text("update_wrong.ascends"))], 0.0
        every = text("update_wrong.every")
        return [say("update_wrong", key=every, why=text("update_wrong.differs"))], 0.0
    return None


def _nn_model(values, i, problem):
    got, problem_found = _dict(values[f"nn_model.{i}"], KEYS, "parameters")
    if problem_found:
        return [problem_found], 0.0
    n_h = problem.sizes[1]
    # the editions' conventions: seed(3) in nn_model, or seed(2) in initialize_parameters
    expected, older = (_trained(problem.X, problem.Y, n_h, seed) for seed in (3, 2))
    if any(all(close(got[k], ref[k]) for k in KEYS) for ref in (expected, older)):
        return None
    for rate in OTHER_RATES:
        if all(close(got[k], _trained(problem.X, problem.Y, n_h, 3, rate)[k]) for k in KEYS):
            return [say("learning_rate_wrong", what="nn_model", rate=rate)], 0.0
    key = next(k for k in KEYS if not close(got[k], expected[k]))
    index = tuple(
        int(j)
        for j in np.unravel_index(np.argmax(np.abs(got[key] - expected[key])), expected[key].shape)
    )
    return [
        say(
            "nn_model_wrong",
            iterations=40,
            key=key,
            index=list(index),
            value=float(got[key][index]),
            expected=float(expected[key][index]),
        )
    ], 0.0


def _values(value) -> np.ndarray | None:
    """The values of what a function returned, as an array: an ndarray, or a tuple,
    list or ndarray subclass that had numbers."""
    if isinstance(value, np.ndarray):
        return value
    array = getattr(value, "array", None) if isinstance(value, Foreign) else None
    if isinstance(array, dict):
        array = array.get("array")
    return array if isinstance(array, np.ndarray) else None


def _labels(value) -> np.ndarray | None:
    """Predictions as the course's students return them: bool, int or float, 2-D or 1-D."""
    array = _values(value)
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        return None
    return np.asarray(array, dtype=np.float64)


def _predict(points, values, problems, half) -> Verdict:
    name = "predict"
    for i, problem in enumerate(problems):
        got = _labels(values[f"predict.{i}"])
        A2, _ = reference_forward(problem.X, problem.parameters)
        expected = (A2 > 0.5).astype(np.float64)
        if got is None:
            diagnosis = say(
                "not_ndarray.propagation", key="predictions", type=type_name(values[f"predict.{i}"])
            )
            return _verdict(name, points, [checked_on(diagnosis, problem.where())])
        if got.size != expected.size:
            diagnosis = say("predict_wrong.shape", shape=got.shape, expected=expected.shape)
            return _verdict(name, points, [checked_on(diagnosis, problem.where())])
        got = got.reshape(expected.shape)
        if not np.array_equal(got, expected):
            index = [0, int(np.argmax(got != expected))]
            diagnosis = say(
                "predict_wrong",
                index=index,
                value=float(got[0, index[1]]),
                expected=float(expected[0, index[1]]),
            )
            return _verdict(name, points, [checked_on(diagnosis, problem.where())])
    at_half = _labels(values["predict.half"])
    if at_half is not None and at_half.any():
        return _verdict(name, points, [say("predict_threshold")], 0.5)
    return _verdict(name, points, [])
