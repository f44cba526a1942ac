"""The compiled reference kernel: same entry points as ``initlab.reference``, in C.

``forward``, ``gradients`` and ``train`` take the course's parameters dict
(``W1, b1, ..., WL, bL``) for any number of layers and widths. Every input is
validated here, in Python, so bad input is a one-line ``ValueError`` or
``TypeError`` that names it; the compiled module only ever sees C-contiguous
float64 buffers of the right sizes.

The kernel computes in float64 with a fixed summation order and no
floating-point contraction (see ``initlab/_kernel.pyx``), so the same inputs
give the same bits on any machine and with any BLAS. ``train`` runs the whole
loop in C without the GIL.

The functions that validate set ``__tracebackhide__``: IPython and pytest leave
their frames out of a traceback, so a notebook that passes bad input sees its own
call and the raise with its one-line reason, not every frame in between.
"""

from __future__ import annotations

import importlib
import os

import numpy as np

from initlab._validation import (
    check_activation,
    check_labels,
    check_parameters,
    check_training_options,
    check_X,
)

#: How long the kernel's idle OpenMP threads spin before they sleep (GNU libgomp's
#: GOMP_SPINCOUNT, set while the compiled modules load, unless GOMP_SPINCOUNT or
#: OMP_WAIT_POLICY is set already). libgomp's default, 300,000 spins, keeps an idle
#: thread busy for milliseconds after every parallel region: two processes that
#: train side by side then take each other's cores, and an MNIST-sized training on
#: two threads beside another ran 8 times slower than with this count, which still
#: covers the gaps between one iteration's parallel regions.
SPIN_COUNT = "10000"


def _import_kernel():
    """initlab._kernel, loaded (with the OpenMP runtime it links) under SPIN_COUNT.

    libgomp reads its environment once, when it is loaded; the variable is removed
    again afterwards, so that other libraries and child processes do not see it."""
    added = "GOMP_SPINCOUNT" not in os.environ and "OMP_WAIT_POLICY" not in os.environ
    if added:
        os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT
    try:
        return importlib.import_module("initlab._kernel")
    finally:
        if added:
            os.environ.pop("GOMP_SPINCOUNT", None)


try:
    _baseline = _import_kernel()
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError(
        "initlab's compiled kernel (initlab._kernel) could not be imported: "
        f"{error}. Reinstall the package with `pip install .` from the project folder, "
        "which compiles it; a C compiler and the Python headers are needed."
    ) from error

__all__ = [
    "BUILD",
    "INSTRUCTION_SET",
    "TrainingDiverged",
    "forward",
    "gradients",
    "num_threads",
    "train",
]


class TrainingDiverged(FloatingPointError, ValueError):
    """``train`` stopped: an update made a parameter inf or nan (the message says which
    iteration). A ValueError too, as a bad learning rate or bad parameters are."""

_BUILDS = ("baseline", "avx2", "avx512")


def _select_build():
    """The widest build this CPU runs, or the one INITLAB_KERNEL names.

    All builds compute the same bits; the choice only changes the speed.
    """
    choice = os.environ.get("INITLAB_KERNEL", "auto")
    if choice != "auto" and choice not in _BUILDS:
        raise ImportError(
            f"INITLAB_KERNEL is {choice!r}; expected 'auto', {', '.join(map(repr, _BUILDS))}"
        )
    best = _baseline.best_supported()
    wanted = best if choice == "auto" else choice
    if _BUILDS.index(wanted) > _BUILDS.index(best):
        raise ImportError(f"INITLAB_KERNEL is {choice!r} but this CPU runs at most {best!r}")
    for name in reversed(_BUILDS[1 : _BUILDS.index(wanted) + 1]):
        try:
            return importlib.import_module(f"initlab._kernel_{name}")
        except ImportError as error:
            if choice != "auto":
                raise ImportError(f"INITLAB_KERNEL is {choice!r} but {error}") from error
    return _baseline  # a build without the x86 variants: same bits, narrower vectors


_kernel = _select_build()
#: The build in use: "baseline", "avx2" or "avx512".
INSTRUCTION_SET: str = _kernel.instruction_set()
#: How the module in use was compiled: {"compiler": e.g. "gcc 12.2.0", "instruction_set":
#: "baseline", "avx2" or "avx512", "openmp": bool, "simd": "vector extensions" or "portable"}.
#: Every build computes the same bits; `python -m initlab.kernel` prints it.
BUILD: dict = _kernel.build()


def num_threads() -> int:
    """The most threads the kernel uses: INITLAB_NUM_THREADS, else the CPUs this process
    may use. A network too small to share runs on one thread (see _threads_for).

    Results do not depend on it: each output element is computed by one thread,
    and a sum split over threads keeps its order (see _kernel.pyx).
    """
    value = os.environ.get("INITLAB_NUM_THREADS")
    if value is None:
        if hasattr(os, "sched_getaffinity"):
            return len(os.sched_getaffinity(0))
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"INITLAB_NUM_THREADS is {value!r}; expected a positive integer")
    return int(value)


#: Multiply-adds of one iteration (forward and backward) from which a second thread
#: pays for its start-up and synchronisation; below it the kernel runs on one thread.
#: On the course problem (about 60,000) two threads were slower than one, as
#: forward and gradients share the work; train shares it by the examples instead
#: (TRAIN_SPLIT_EXAMPLES).
PARALLEL_WORK = 1 << 20


def _threads_for(dims, m: int) -> int:
    """The threads for a network of these layer sizes and m examples: num_threads(),
    or 1 when one iteration is too little work to share. The result does not depend
    on it (see _kernel.pyx)."""
    threads = num_threads()
    work = m * sum(int(dims[l]) * int(dims[l - 1]) for l in range(1, len(dims)))
    return threads if 3 * work >= PARALLEL_WORK else 1


#: Examples from which train gives a network too small for _threads_for to all the
#: threads all the same: it splits them by the examples, each thread the forward
#: and backward pass of a subtree of the pairwise sums over them, and trains on
#: one thread or all, whichever it measures faster (see _kernel.pyx's Split).
TRAIN_SPLIT_EXAMPLES = 256


def _train_threads(dims, m: int) -> int:
    """The threads for train: _threads_for, or all of them for a small network with
    TRAIN_SPLIT_EXAMPLES examples or more."""
    threads = _threads_for(dims, m)
    return num_threads() if threads == 1 and m >= TRAIN_SPLIT_EXAMPLES else threads


def _flatten(parameters: dict, dims: list[int]) -> np.ndarray:
    """W1, b1, ..., WL, bL concatenated in C order (a fresh copy), starting at an address
    that is a multiple of 64 bytes, so that train can update it in place."""
    L = len(dims) - 1
    parts = [parameters[f"{p}{l}"].ravel() for l in range(1, L + 1) for p in "Wb"]
    size = sum(part.size for part in parts)
    block = np.empty(size + 8)
    start = (-block.ctypes.data % 64) // 8  # numpy aligns float64 to 8 bytes at least
    return np.concatenate(parts, out=block[start : start + size])


def _unflatten(flat: np.ndarray, dims: list[int], prefix: str = "") -> dict:
    """The arrays of a flat buffer this module made (its own, used nowhere else), as
    views of it: C-contiguous, writeable and disjoint, so no copy is needed."""
    out = {}
    offset = 0
    for l in range(1, len(dims)):
        n, n_prev = dims[l], dims[l - 1]
        out[f"{prefix}W{l}"] = flat[offset : offset + n * n_prev].reshape(n, n_prev)
        offset += n * n_prev
        out[f"{prefix}b{l}"] = flat[offset : offset + n].reshape(n, 1)
        offset += n
    return out


def _prepare(X, parameters, hidden_activation):
    __tracebackhide__ = True
    activation = check_activation(hidden_activation)
    X = check_X(X)
    dims = check_parameters(parameters, n_x=X.shape[0])
    return (
        np.ascontiguousarray(X),
        _flatten(parameters, dims),
        dims,
        np.asarray(dims, dtype=np.intp),
        activation,
    )


def forward(X: np.ndarray, parameters: dict, hidden_activation: str = "relu") -> np.ndarray:
    """AL, shape ``(n_L, m)``: ``A{l} = g(W{l} A{l-1} + b{l})``, sigmoid at the last layer.

    Parameters
    ----------
    X : float64 array of shape (n_0, m)
    parameters : dict ``W1, b1, ..., WL, bL``
        ``W{l}`` of shape ``(n_l, n_{l-1})``, ``b{l}`` of shape ``(n_l, 1)``
    hidden_activation : "relu", "tanh", "sigmoid" or "leaky_relu" (slope 0.01)
    """
    __tracebackhide__ = True
    X, flat, _, dims, activation = _prepare(X, parameters, hidden_activation)
    return _kernel.forward(X, flat, dims, activation, _threads_for(dims, X.shape[1]))


def gradients(
    X: np.ndarray, Y: np.ndarray, parameters: dict, hidden_activation: str = "relu"
) -> tuple[float, dict]:
    """(cost, grads): the loss at ``parameters`` and its gradients ``dW1, db1, ..., dWL, dbL``.

    ``Y`` has shape ``(n_L, m)``, float64 or integer/bool labels in [0, 1].
    """
    __tracebackhide__ = True
    X, flat, dim_list, dims, activation = _prepare(X, parameters, hidden_activation)
    Y = np.ascontiguousarray(check_labels(Y, dim_list[-1], X.shape[1]))
    cost, grads = _kernel.gradients(X, Y, flat, dims, activation, _threads_for(dims, X.shape[1]))
    return float(cost), _unflatten(grads, dim_list, prefix="d")


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
    """Full-batch gradient descent, the whole loop in C: ``W -= lr dW``, ``b -= lr db``.

    Returns the trained parameters (those passed in are not changed) and the
    costs, a float64 array, at iterations 0, record_every, ..., each computed
    from the forward pass before that iteration's update.
    """
    __tracebackhide__ = True
    X, flat, dim_list, dims, activation = _prepare(X, parameters, hidden_activation)
    Y = np.ascontiguousarray(check_labels(Y, dim_list[-1], X.shape[1]))
    check_training_options(learning_rate, num_iterations, record_every)
    costs = np.empty(-(-num_iterations // record_every))
    diverged = _kernel.train(
        X,
        Y,
        flat,
        dims,
        activation,
        float(learning_rate),
        num_iterations,
        record_every,
        costs,
        _train_threads(dim_list, X.shape[1]),
    )
    if diverged >= 0:
        raise TrainingDiverged(
            f"training diverged: after the update of iteration {diverged} the parameters "
            f"are not finite (inf or nan); learning_rate {learning_rate} is too large for "
            "these parameters, or they are too large"
        )
    return _unflatten(flat, dim_list), costs


if __name__ == "__main__":
    print(", ".join(f"{key}: {value}" for key, value in BUILD.items()))
