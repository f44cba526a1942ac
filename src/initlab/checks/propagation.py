"""Checks of forward_propagation, compute_loss, backward_propagation and update_parameters.

Each check compares what the student's function returned with the reference
(``initlab.reference``, ReLU hidden layers and a sigmoid output) and, when it
differs, with the usual mistakes, each computed here the way a student would
make it: the wrong activation, the loss without 1/m or without nansum, the
gradients with 1/m again or with a wrong ReLU derivative, the update with the
wrong sign. A mistake that matches gets its own code; anything else is
``forward_wrong``, ``loss_wrong``, ``grad_wrong`` (naming the tensor) or
``update_wrong``, with the measured numbers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from initlab import kernel, reference
from initlab.checks import Diagnosis, Verdict, type_name
from initlab.i18n import _
from initlab.messages import checked_on, say, text

# The reference computes in another summation order than a student's numpy
# code: values agree to a few ulp, entries that are near-cancelling sums to a
# few ulp of the tensor's largest entry.
RTOL = 1e-9


def close(actual: np.ndarray, expected: np.ndarray) -> bool:
    if actual.shape != expected.shape:
        return False
    scale = float(np.max(np.abs(expected[np.isfinite(expected)]), initial=0.0))
    with np.errstate(invalid="ignore"):
        return bool(np.allclose(actual, expected, rtol=RTOL, atol=RTOL * scale, equal_nan=True))


def _array(value: object, what: str) -> tuple[np.ndarray | None, Diagnosis | None]:
    """value as a float64 ndarray, or the diagnosis of why it is not one."""
    if type(value) is not np.ndarray:
        return None, say("not_ndarray.propagation", key=what, type=type_name(value))
    if value.dtype != np.float64:
        return None, say("wrong_dtype", key=what, dtype=str(value.dtype))
    return value, None


def network(parameters: dict, X: np.ndarray | None = None) -> str:
    """``layers_dims = [2, 4, 3, 1], m = 7``: the network a check ran on, to rerun it."""
    L = len(parameters) // 2
    dims = [int(np.shape(parameters["W1"])[1])] + [
        int(np.shape(parameters[f"W{l}"])[0]) for l in range(1, L + 1)
    ]
    return f"layers_dims = {dims}" + (f", m = {X.shape[1]}" if X is not None else "")


def _verdict_at(where: str, name: str, max_score: float, diagnoses: list[Diagnosis]) -> Verdict:
    """The verdict, each diagnosis saying the network it was found on."""
    if where:
        diagnoses = [checked_on(d, where) for d in diagnoses]
    return _verdict(name, max_score, diagnoses)


def _verdict(name: str, max_score: float, diagnoses: list[Diagnosis]) -> Verdict:
    return Verdict(
        name,
        max_score,
        0.0 if diagnoses else max_score,
        diagnoses,
        "failed" if diagnoses else "passed",
    )


# --- forward -----------------------------------------------------------------

_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda z: np.maximum(0, z),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "no activation": lambda z: z,
}


def _forward(X: np.ndarray, parameters: dict, hidden: str, output: str) -> np.ndarray:
    L = len(parameters) // 2
    A = X
    with np.errstate(over="ignore"):
        for l in range(1, L + 1):
            Z = np.dot(parameters[f"W{l}"], A) + parameters[f"b{l}"]
            A = _ACTIVATIONS[output if l == L else hidden](Z)
    return A


CACHE_NAMES = ("A_prev", "W", "b", "Z", "A")
CREDIT_CACHE = 0.5  # AL is right, the cache is not what backward_propagation reads


def _items(value: object) -> list | None:
    """The items of a list or tuple the student returned, as the grader received it."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if type_name(value) in ("list", "tuple") and isinstance(getattr(value, "array", None), dict):
        items, length = value.array["items"], value.array["length"]
        if not isinstance(length, int) or not 0 <= length <= 10_000:
            return None
        return [items.get(i) for i in range(length)]
    return None


def cache_problem(X: np.ndarray, parameters: dict, cache: object) -> Diagnosis | None:
    """None when cache is the list of (A_prev, W, b, Z, A) per layer; else what is not."""
    L = len(parameters) // 2
    expected = reference.layer_caches(X, parameters)
    fix = text("cache_wrong.fix", layers=L)
    entries = _items(cache)
    if entries is None:
        return say("cache_wrong.type", type=type_name(cache), fix=fix)
    if len(entries) != L:
        return say("cache_wrong.length", length=len(entries), fix=fix)
    for l, (entry, want) in enumerate(zip(entries, expected, strict=True), start=1):
        values = _items(entry)
        if values is None or len(values) != len(CACHE_NAMES):
            items = text("cache_wrong.items", count=len(values)) if values is not None else ""
            return say("cache_wrong.entry", index=l - 1, type=type_name(entry), items=items, l=l)
        for what, value, right in zip(CACHE_NAMES, values, want, strict=True):
            if type(value) is not np.ndarray or not close(value, right):
                return say("cache_wrong.value", index=l - 1, what=what, l=l)
    return None


def check_forward(calls: list[tuple[np.ndarray, dict, object]], max_score: float = 1.0) -> Verdict:
    """calls: (X, parameters, what forward_propagation returned).

    A mistake is named only when it explains the output of every call: one
    network alone may not tell relu from no activation (all Z > 0).
    """
    name = "forward_propagation"
    where = ""
    outputs = []
    for X, parameters, result in calls:
        where = network(parameters, X)
        if not isinstance(result, tuple) and type_name(result) not in ("tuple", "list"):
            return _verdict_at(
                where,
                name,
                max_score,
                [say("forward_wrong.not_a_pair", type=type_name(result))],
            )
        AL = result[0] if isinstance(result, tuple) else result.array["items"].get(0)
        AL, problem = _array(AL, "AL")
        if problem:
            return _verdict_at(where, name, max_score, [problem])
        expected = reference.forward(X, parameters)
        if AL.shape != expected.shape:
            return _verdict_at(
                where,
                name,
                max_score,
                [
                    say(
                        "forward_wrong.shape",
                        shape=AL.shape,
                        expected=expected.shape,
                        x_shape=X.shape,
                        layers=len(parameters) // 2,
                    )
                ],
            )
        cache = result[1] if isinstance(result, tuple) else result.array["items"].get(1)
        outputs.append((X, parameters, AL, expected, cache))
    wrong = [(X, p, AL, e) for X, p, AL, e, _ in outputs if not close(AL, e)]
    if not wrong:
        for X, parameters, _AL, _expected, cache in outputs:
            problem = cache_problem(X, parameters, cache)
            if problem:
                diagnosis = checked_on(problem, network(parameters, X))
                score = round(max_score * CREDIT_CACHE, 6)
                return Verdict(name, max_score, score, [diagnosis], "failed")
        return _verdict_at(where, name, max_score, [])
    outputs = [(X, p, AL, e) for X, p, AL, e, _ in outputs]

    others = len(outputs) - 1
    where = network(outputs[0][1], outputs[0][0]) + (
        (_(" and 1 other network") if others == 1 else _(" and {count} other networks")).format(
            count=others
        )
        if others
        else ""
    )

    def explains(hidden: str, output: str) -> bool:
        return all(close(AL, _forward(X, p, hidden, output)) for X, p, AL, _ in outputs)

    deep = any(len(p) // 2 > 1 for _, p, _, _ in outputs)
    for hidden in ("sigmoid", "tanh", "no activation"):
        if deep and explains(hidden, "sigmoid"):
            return _verdict_at(
                where,
                name,
                max_score,
                [say("hidden_activation_wrong", activation=hidden)],
            )
    for output in ("relu", "tanh", "no activation"):
        if explains("relu", output):
            return _verdict_at(
                where,
                name,
                max_score,
                [say("output_activation_wrong", activation=output)],
            )
    X, parameters, AL, expected = wrong[0]
    where = network(parameters, X)
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(AL - expected)), AL.shape))
    return _verdict_at(
        where,
        name,
        max_score,
        [
            say(
                "forward_wrong",
                layers=len(parameters) // 2,
                index=list(worst),
                value=float(AL[worst]),
                expected=float(expected[worst]),
            )
        ],
    )


# --- loss --------------------------------------------------------------------


def check_loss(
    calls: list[tuple[np.ndarray, np.ndarray, object]], max_score: float = 1.0
) -> Verdict:
    """calls: (AL, Y, what compute_loss returned)."""
    name = "compute_loss"
    where = ""
    for AL, Y, result in calls:
        where = _("AL of shape {shape}").format(shape=AL.shape)
        value = result
        if isinstance(result, np.ndarray) and result.size == 1:
            value = float(result.reshape(()))
        if not isinstance(value, float):
            return _verdict_at(
                where,
                name,
                max_score,
                [say("loss_wrong.type", type=type_name(result))],
            )
        expected = reference.compute_loss(AL, Y)
        if value == expected or (
            np.isfinite(expected) and abs(value - expected) <= RTOL * abs(expected)
        ):
            continue
        m = Y.shape[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.multiply(-np.log(AL), Y) + np.multiply(-np.log(1 - AL), 1 - Y)
            summed = float(np.sum(terms) / m)
            averaged = float(np.nanmean(terms)) if not np.isnan(terms).all() else np.nan
        hints = [
            (expected * m, "loss_wrong.not_divided"),
            (-expected, "loss_wrong.sign"),
            (summed, "loss_wrong.sum"),
            (averaged, "loss_wrong.nanmean"),
        ]
        for candidate, why in hints:
            if (
                value == candidate
                or (np.isnan(value) and np.isnan(candidate))
                or (np.isfinite(candidate) and abs(value - candidate) <= RTOL * abs(candidate))
            ):
                return _verdict_at(
                    where,
                    name,
                    max_score,
                    [say("loss_wrong.hint", value=value, expected=float(expected), why=text(why))],
                )
        return _verdict_at(
            where,
            name,
            max_score,
            [say("loss_wrong", value=value, shape=AL.shape, expected=float(expected))],
        )
    return _verdict_at(where, name, max_score, [])


# --- backward ----------------------------------------------------------------


def _backward(X, Y, parameters, derivative: str) -> dict:
    """The reference backward pass, with the ReLU derivative replaced as a student might."""
    activations = reference.forward_cache(X, parameters)
    L = len(parameters) // 2
    m = Y.shape[1]
    grads = {}
    dZ = 1.0 / m * (activations[L] - Y)
    for l in range(L, 0, -1):
        A_prev = activations[l - 1]
        grads[f"dW{l}"] = np.dot(dZ, A_prev.T)
        grads[f"db{l}"] = np.sum(dZ, axis=1, keepdims=True)
        if l > 1:
            dA = np.dot(parameters[f"W{l}"].T, dZ)
            dZ = {"none": dA, "times A": dA * A_prev, "sigmoid": dA * A_prev * (1 - A_prev)}[
                derivative
            ]
    return grads


def _numeric(X, Y, parameters, key: str, index: tuple) -> float:
    """Centred difference of the cost along one parameter, through the kernel."""
    h = 1e-6
    shifted = {k: v.copy() for k, v in parameters.items()}
    shifted[key][index] += h
    plus, _cost = kernel.gradients(X, Y, shifted)
    shifted[key][index] -= 2 * h
    minus, _cost = kernel.gradients(X, Y, shifted)
    return (plus - minus) / (2 * h)


def check_backward(
    calls: list[tuple[np.ndarray, np.ndarray, dict, object]], max_score: float = 1.0
) -> Verdict:
    """calls: (X, Y, parameters, what backward_propagation returned)."""
    name = "backward_propagation"
    where = ""
    for X, Y, parameters, grads in calls:
        where = network(parameters, X)
        L = len(parameters) // 2
        keys = [f"{p}{l}" for l in range(1, L + 1) for p in ("dW", "db")]
        if not isinstance(grads, dict):
            return _verdict_at(
                where,
                name,
                max_score,
                [say("grad_wrong.type", type=type_name(grads), keys=", ".join(keys))],
            )
        missing = [k for k in keys if k not in grads]
        if missing:
            return _verdict_at(
                where,
                name,
                max_score,
                [say("grad_wrong.missing", keys=", ".join(missing))],
            )
        _, expected = kernel.gradients(X, Y, parameters)
        for key in keys:
            value, problem = _array(grads[key], key)
            if problem:
                return _verdict_at(where, name, max_score, [problem])
            want = expected[key]
            if value.shape == want.shape:
                continue
            if key.startswith("db"):
                diagnosis = say("db_shape", key=key, shape=value.shape, expected=want.shape)
            elif value.shape == want.shape[::-1]:
                diagnosis = say(
                    "grad_transposed", key=key, shape=value.shape, expected=want.shape, of=key[1:]
                )
            else:
                diagnosis = say(
                    "grad_wrong.shape", key=key, shape=value.shape, expected=want.shape, of=key[1:]
                )
            return _verdict_at(where, name, max_score, [diagnosis])
        student = {k: grads[k] for k in keys}
        if all(close(student[k], expected[k]) for k in keys):
            continue
        m = X.shape[1]
        if all(close(student[k], m * expected[k]) for k in keys) or all(
            close(student[k], expected[k] / m) for k in keys
        ):
            return _verdict_at(
                where,
                name,
                max_score,
                [say("grad_missing_1_over_m", m=m)],
            )
        for derivative in ("none", "times A", "sigmoid"):
            variant = _backward(X, Y, parameters, derivative)
            if L > 1 and all(close(student[k], variant[k]) for k in keys):
                how = text(f"relu_derivative_wrong.{derivative}")
                return _verdict_at(
                    where,
                    name,
                    max_score,
                    [say("relu_derivative_wrong", how=how)],
                )
        key = next(k for k in reversed(keys) if not close(student[k], expected[k]))
        value, want = student[key], expected[key]
        index = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(value - want)), want.shape))
        numeric = _numeric(X, Y, parameters, key[1:], index)
        return _verdict_at(
            where,
            name,
            max_score,
            [
                say(
                    "grad_wrong",
                    key=key,
                    layers=L,
                    index=list(index),
                    value=float(value[index]),
                    expected=float(want[index]),
                    numeric=float(numeric),
                )
            ],
        )
    return _verdict_at(where, name, max_score, [])


# --- update ------------------------------------------------------------------


def check_update(calls: list[tuple[dict, dict, float, object]], max_score: float = 1.0) -> Verdict:
    """calls: (parameters, grads, learning_rate, what update_parameters returned)."""
    name = "update_parameters"
    where = ""
    for parameters, grads, learning_rate, result in calls:
        where = f"{network(parameters)}, learning_rate = {learning_rate:g}"
        if not isinstance(result, dict) or set(result) != set(parameters):
            return _verdict_at(
                where,
                name,
                max_score,
                [
                    say(
                        "update_wrong.type",
                        type=type_name(result),
                        keys=(
                            text("update_wrong.keys", keys=", ".join(map(str, result)))
                            if isinstance(result, dict)
                            else ""
                        ),
                        expected=", ".join(parameters),
                    )
                ],
            )
        for key, value in parameters.items():
            new, problem = _array(result[key], key)
            if problem:
                return _verdict_at(where, name, max_score, [problem])
            grad = grads["d" + key]
            if close(new, value - learning_rate * grad):
                continue
            why = text("update_wrong.not_updated")
            if close(new, value + learning_rate * grad):
                why = text("update_wrong.ascends")
            elif close(new, value - grad):
                why = text("update_wrong.no_rate")
            elif new.shape != value.shape:
                why = text("update_wrong.shape", shape=new.shape, expected=value.shape)
            elif not close(new, value):
                why = text("update_wrong.differs")
            return _verdict_at(where, name, max_score, [say("update_wrong", key=key, why=why)])
    return _verdict_at(where, name, max_score, [])
