"""Input checks shared by the numpy reference and the compiled kernel.

Every error names the argument, what was expected and what was found, in one
line. Nothing is cast in a way that could change a value: floating inputs must
already be float64; integer or boolean labels are converted exactly.

The functions that validate set ``__tracebackhide__``: IPython and pytest leave
their frames out of a traceback, so a notebook that passes bad input sees its own
call and the raise with its one-line reason, not every frame in between.
"""

from __future__ import annotations

import numbers
import re

import numpy as np

ACTIVATION_CODES = {"relu": 0, "tanh": 1, "sigmoid": 2, "leaky_relu": 3}

_KEY = re.compile(r"^([Wb])([1-9][0-9]*)$")


def check_activation(hidden_activation: object) -> int:
    """The kernel's code for ``hidden_activation``."""
    __tracebackhide__ = True
    if not isinstance(hidden_activation, str) or hidden_activation not in ACTIVATION_CODES:
        raise ValueError(
            f"hidden_activation is {hidden_activation!r}; "
            f"expected one of {', '.join(repr(a) for a in ACTIVATION_CODES)}"
        )
    return ACTIVATION_CODES[hidden_activation]


def _check_float_matrix(name: str, value: object) -> np.ndarray:
    __tracebackhide__ = True
    if type(value) is not np.ndarray:
        raise TypeError(
            f"{name} is a {type(value).__module__}.{type(value).__qualname__}; "
            "expected a numpy.ndarray of float64"
        )
    if value.dtype != np.float64:
        raise TypeError(f"{name} has dtype {value.dtype}; expected float64")
    if value.ndim != 2:
        raise ValueError(f"{name} has shape {value.shape}; expected a 2-D array")
    if value.size == 0:
        raise ValueError(f"{name} has shape {value.shape}; expected no zero dimension")
    return value


def _check_finite(name: str, value: np.ndarray) -> None:
    __tracebackhide__ = True
    finite = np.isfinite(value)
    if not finite.all():
        bad = np.argwhere(~finite)
        first = tuple(int(i) for i in bad[0])
        raise ValueError(
            f"{name} has {len(bad)} non-finite value(s), first {value[first]!r} at "
            f"index {first}; expected finite values"
        )


def check_X(X: object) -> np.ndarray:
    """X: float64 ``(n_0, m)``, finite."""
    __tracebackhide__ = True
    X = _check_float_matrix("X", X)
    _check_finite("X", X)
    return X


def check_parameters(parameters: object, n_x: int) -> list[int]:
    """``layers_dims`` of a parameters dict ``W1, b1, ..., WL, bL`` fed with n_x inputs.

    The width n_l of layer l is read from ``b{l}`` (shape ``(n_l, 1)``), so a
    wrong ``W{l}`` is reported against the shape it should have.
    """
    __tracebackhide__ = True
    if not isinstance(parameters, dict):
        raise TypeError(
            f"parameters is a {type(parameters).__qualname__}; "
            "expected a dict with keys W1, b1, ..., WL, bL"
        )
    layers = set()
    for key in parameters:
        match = _KEY.match(key) if isinstance(key, str) else None
        if match is None:
            raise ValueError(
                f"parameters has an unexpected key {key!r}; expected only W1, b1, ..., WL, bL"
            )
        layers.add(int(match.group(2)))
    if not layers:
        raise ValueError("parameters is empty; expected keys W1, b1, ..., WL, bL")
    L = max(layers)
    expected = [f"{p}{l}" for l in range(1, L + 1) for p in "Wb"]
    missing = [key for key in expected if key not in parameters]
    if missing:
        raise ValueError(
            f"parameters is missing {', '.join(missing)}; expected keys W1, b1, ..., W{L}, b{L}"
        )
    dims = [n_x]
    for l in range(1, L + 1):
        b = _check_float_matrix(f"b{l}", parameters[f"b{l}"])
        if b.shape[1] != 1:
            raise ValueError(f"b{l} has shape {b.shape}; expected (n_{l}, 1), a column vector")
        dims.append(b.shape[0])
    for l in range(1, L + 1):
        W = _check_float_matrix(f"W{l}", parameters[f"W{l}"])
        want = (dims[l], dims[l - 1])
        if W.shape != want:
            hint = f"; W{l} looks transposed" if W.shape == want[::-1] else ""
            source = "X.shape[0]" if l == 1 else f"b{l - 1}.shape[0]"
            raise ValueError(
                f"W{l} has shape {W.shape}; expected {want} = (n_{l}, n_{l - 1}) "
                f"with n_{l} = b{l}.shape[0] and n_{l - 1} = {source}{hint}"
            )
    for l in range(1, L + 1):
        _check_finite(f"W{l}", parameters[f"W{l}"])
        _check_finite(f"b{l}", parameters[f"b{l}"])
    return dims


def check_labels(Y: object, n_L: int, m: int) -> np.ndarray:
    """Y as float64 ``(n_L, m)`` with values in [0, 1]; integer or bool labels convert exactly."""
    __tracebackhide__ = True
    if type(Y) is not np.ndarray:
        raise TypeError(
            f"Y is a {type(Y).__module__}.{type(Y).__qualname__}; expected a numpy.ndarray"
        )
    if Y.dtype != np.float64 and Y.dtype.kind not in "iub":
        raise TypeError(f"Y has dtype {Y.dtype}; expected float64, an integer type or bool")
    if Y.shape != (n_L, m):
        raise ValueError(f"Y has shape {Y.shape}; expected {(n_L, m)} = (n_L, m)")
    if Y.dtype.kind in "iu" and Y.size and (Y.min() < 0 or Y.max() > 1):
        raise ValueError(f"Y has values from {Y.min()} to {Y.max()}; expected labels in [0, 1]")
    Y = Y.astype(np.float64)
    _check_finite("Y", Y)
    if Y.min() < 0 or Y.max() > 1:
        raise ValueError(f"Y has values from {Y.min()} to {Y.max()}; expected labels in [0, 1]")
    return Y


def check_training_options(
    learning_rate: object, num_iterations: object, record_every: object
) -> None:
    """learning_rate a finite real; num_iterations >= 0 and record_every >= 1 integers."""
    __tracebackhide__ = True
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
        raise TypeError(f"learning_rate is {learning_rate!r}; expected a real number")
    if not np.isfinite(learning_rate):
        raise ValueError(f"learning_rate is {learning_rate!r}; expected a finite number")
    counts = (("num_iterations", num_iterations, 0), ("record_every", record_every, 1))
    for name, value, low in counts:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} is {value!r}; expected an integer")
        if value < low:
            raise ValueError(f"{name} is {value}; expected an integer >= {low}")
