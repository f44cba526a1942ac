"""Checks of the four initialization functions, with a diagnosis for each common mistake.

A check receives what the student's function returned for one or more
``layers_dims`` and compares it with ``initlab.reference.initialize_parameters``.

How a wrong answer is told apart:

- Structure first: a dict with exactly ``W1, b1, ..., WL, bL``, plain float64
  ndarrays, ``W{l}`` of shape ``(n_l, n_{l-1})``, ``b{l}`` of ``(n_l, 1)`` and zero.
- Same draws, other factor: when ``W{l}`` is an exact multiple ``c Z`` of the
  draws ``Z`` that ``np.random.seed(3)`` gives, the seed is right and ``c`` is
  the scale the student used, measured exactly; it is matched against the
  usual mistakes (Xavier's sqrt(1/n) for He, He's for Xavier, the layer's own
  size instead of its fan-in, a missing square root).
- Other draws: the seed (or the generator) differs. On layers large enough to
  measure, the root mean square of the weights is the scale, matched as above
  within a few standard errors, and the kurtosis tells a uniform from a normal
  distribution. Right scale and distribution with other values is ``wrong_seed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from initlab import reference
from initlab.checks import Diagnosis, Verdict, type_name

METHODS = {
    "initialize_parameters_zeros": "zeros",
    "initialize_parameters_random": "random",
    "initialize_parameters_he": "he",
    "initialize_parameters_xavier": "xavier",
}
SEED = 3

# Credit, as a fraction of the test's points, for what is still right.
CREDIT_WRONG_SEED = 0.8  # right distribution and scale, other values
CREDIT_WRONG_SCALE = 0.2  # right shapes and seed or distribution, wrong scale
CREDIT_BIAS = 0.5  # factor applied when only the biases are wrong

# (2/n)**0.5 and np.sqrt(2/n), or randn(...) * s and s * randn(...), differ in
# the last bit at most: anything within this is the same answer.
EXACT_RTOL = 1e-10
# A layer needs this many weights before its scale and shape are measured.
MIN_WEIGHTS_FOR_STATISTICS = 2000
# Standard errors allowed between a measured and a candidate scale.
STANDARD_ERRORS = 6.0
# Excess kurtosis: 0 for a normal distribution, -1.2 for a uniform one.
UNIFORM_KURTOSIS_BELOW = -0.6


def check_initializer(
    name: str, calls: Sequence[tuple[Sequence[int], object]], max_score: float = 1.0
) -> Verdict:
    """Verdict on ``name`` (e.g. "initialize_parameters_he") from its results.

    ``calls`` holds ``(layers_dims, returned value)`` pairs. The score is the
    lowest credit over the calls; the diagnoses are those of the calls that
    earned it, from calls whose layers were large enough to measure first (a
    small call can only tell that the values differ, a large one tells how).
    """
    method = METHODS[name]
    verdict = Verdict(name=name, max_score=max_score)
    judged = [
        _check_call(method, [int(n) for n in layers_dims], result) for layers_dims, result in calls
    ]
    credit = min((call.credit for call in judged), default=1.0)
    worst = sorted((call for call in judged if call.credit == credit), key=lambda c: not c.measured)
    for call in worst:
        for diagnosis in call.diagnoses:
            if diagnosis.code not in {d.code for d in verdict.diagnoses}:
                verdict.diagnoses.append(diagnosis)
    verdict.score = round(max_score * credit, 6)
    verdict.status = "passed" if credit == 1.0 else "failed"
    return verdict


class _Call(NamedTuple):
    """The judgement of one call: what is wrong, the credit left, and whether the
    weights could be measured (a small call with other values can only tell that)."""

    diagnoses: list[Diagnosis]
    credit: float
    measured: bool = True


def _check_call(method: str, dims: list[int], result: object) -> _Call:
    expected = reference.initialize_parameters(dims, method, seed=SEED)
    problem = _structure(dims, result, expected)
    if problem:
        return _Call([problem], 0.0)
    assert isinstance(result, dict)
    L = len(dims) - 1
    diagnoses = _biases(dims, result)
    bias_credit = CREDIT_BIAS if diagnoses else 1.0
    weights = [result[f"W{l}"] for l in range(1, L + 1)]
    for l, W in enumerate(weights, start=1):
        if not np.all(np.isfinite(W)):
            return _Call(
                diagnoses + [Diagnosis("scale_wrong", f"W{l} has non-finite values (nan or inf)")],
                0.0,
            )
    if method == "zeros":
        nonzero = [(l, W) for l, W in enumerate(weights, start=1) if W.any()]
        if nonzero:
            l, W = nonzero[0]
            return _Call(
                diagnoses
                + [
                    Diagnosis(
                        "not_zero",
                        f"W{l} is not all zeros (largest |value| {np.max(np.abs(W)):.4g}); "
                        "zero initialization sets every weight to 0 with np.zeros",
                    )
                ],
                0.0,
            )
        return _Call(diagnoses, bias_credit)
    if all(
        np.allclose(W, expected[f"W{l}"], rtol=EXACT_RTOL, atol=0)
        for l, W in enumerate(weights, start=1)
    ):
        return _Call(diagnoses, bias_credit)
    for l, W in enumerate(weights, start=1):
        if W.size > 1 and np.ptp(W) == 0:
            return _Call(
                diagnoses
                + [
                    Diagnosis(
                        "constant_init",
                        f"every weight of W{l} equals {W.flat[0]:.4g}: all units of layer {l} "
                        "compute the same thing and learn the same thing, so symmetry is "
                        "never broken; draw random weights with np.random.randn",
                    )
                ],
                0.0,
            )
    judged = _weights(method, dims, weights)
    return _Call(diagnoses + judged.diagnoses, judged.credit * bias_credit, judged.measured)


def _structure(dims: list[int], result: object, expected: dict) -> Diagnosis | None:
    """The first structural mistake, or None."""
    if not isinstance(result, dict):
        return Diagnosis(
            "not_a_dict",
            f"returned a {type(result).__name__}; expected a dict with keys {', '.join(expected)}",
        )
    missing = [key for key in expected if key not in result]
    extra = [repr(key) for key in result if key not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        return Diagnosis(
            "wrong_keys",
            f"the dict has {'; '.join(parts)}; for layers_dims = {dims} the keys are "
            f"{', '.join(expected)}",
        )
    for key in expected:
        value = result[key]
        if type(value) is not np.ndarray:
            return Diagnosis(
                "not_ndarray",
                f"{key} is a {type_name(value)}; expected a "
                "plain numpy.ndarray (np.zeros, np.random.randn ...)",
            )
        if value.dtype != np.float64:
            return Diagnosis("wrong_dtype", f"{key} has dtype {value.dtype}; expected float64")
    for l in range(1, len(dims)):
        W = result[f"W{l}"]
        want = (dims[l], dims[l - 1])
        if W.shape == want[::-1] and want[0] != want[1]:
            return Diagnosis(
                "transposed",
                f"W{l} has shape {W.shape}: it is transposed; W{l} has shape "
                f"(n_{l}, n_{l - 1}) = (layers_dims[{l}], layers_dims[{l - 1}]) = {want}",
            )
        if W.shape != want:
            return Diagnosis(
                "wrong_shape",
                f"W{l} has shape {W.shape}; expected (layers_dims[{l}], layers_dims[{l - 1}])"
                f" = {want}",
            )
    return None


def _biases(dims: list[int], result: dict) -> list[Diagnosis]:
    diagnoses = []
    for l in range(1, len(dims)):
        b = result[f"b{l}"]
        if b.shape != (dims[l], 1):
            diagnoses.append(
                Diagnosis(
                    "bias_shape",
                    f"b{l} has shape {b.shape}; expected a column (layers_dims[{l}], 1) = "
                    f"{(dims[l], 1)}, as np.zeros((layers_dims[{l}], 1)) gives",
                )
            )
            break
    for l in range(1, len(dims)):
        b = result[f"b{l}"]
        if b.any():
            diagnoses.append(
                Diagnosis(
                    "bias_not_zero",
                    f"b{l} is not zero (largest |value| {np.max(np.abs(b)):.4g}); biases "
                    "start at 0 with np.zeros: random weights already break the symmetry",
                )
            )
            break
    return diagnoses


def _expected_scale(method: str, fan_in: int) -> tuple[float, str]:
    if method == "random":
        return 10.0, "10"
    if method == "he":
        return float(np.sqrt(2.0 / fan_in)), f"sqrt(2/{fan_in})"
    return float(np.sqrt(1.0 / fan_in)), f"sqrt(1/{fan_in})"


def _candidates(method: str, fan_in: int, fan_out: int) -> list[tuple[str, float, str]]:
    """(code, scale, formula) of the usual mistakes, the most specific first."""
    if method == "random":
        return []
    numerator = 2.0 if method == "he" else 1.0
    other = 1.0 if method == "he" else 2.0
    return [
        (
            "scale_xavier" if method == "he" else "scale_he",
            np.sqrt(other / fan_in),
            f"sqrt({other:g}/{fan_in})",
        ),
        ("scale_fan_out", np.sqrt(numerator / fan_out), f"sqrt({numerator:g}/{fan_out})"),
        ("scale_missing_sqrt", numerator / fan_in, f"{numerator:g}/{fan_in}"),
    ]


def _scale_diagnosis(
    method: str, l: int, fan_in: int, fan_out: int, measured: float, rtol: float
) -> Diagnosis | None:
    """None when ``measured`` is the expected scale; else the mistake it matches."""
    scale, formula = _expected_scale(method, fan_in)
    if abs(measured - scale) <= rtol * scale:
        return None
    name = {"he": "He", "xavier": "Xavier", "random": "large random"}[method]
    for code, candidate, candidate_formula in _candidates(method, fan_in, fan_out):
        if abs(measured - candidate) <= rtol * candidate:
            if code == "scale_xavier":
                why = "that is Xavier's sqrt(1/n_{l-1}); He uses sqrt(2/n_{l-1})"
            elif code == "scale_he":
                why = "that is He's sqrt(2/n_{l-1}); Xavier uses sqrt(1/n_{l-1})"
            elif code == "scale_fan_out":
                why = (
                    f"that uses n_{l} = {fan_out}, the layer's own size; use "
                    f"n_{l - 1} = layers_dims[{l - 1}] = {fan_in}, its number of inputs"
                )
            else:
                why = "the square root is missing"
            return Diagnosis(
                code,
                f"W{l} is scaled by {measured:.4g} = {candidate_formula}: {why} "
                f"({name} for this layer: {formula} = {scale:.4g})",
            )
    uses = formula if formula == f"{scale:g}" else f"{formula} = {scale:.4g}"
    return Diagnosis(
        "scale_wrong", f"W{l} is scaled by {measured:.4g}; {name} initialization uses {uses}"
    )


def _draws(dims: list[int], reseed_each_layer: bool) -> list[np.ndarray]:
    """Standard normal draws as ``np.random.seed(3)`` then ``randn`` layer by layer give them."""
    rng = np.random.RandomState(SEED)
    draws = []
    for l in range(1, len(dims)):
        if reseed_each_layer:
            rng = np.random.RandomState(SEED)
        draws.append(rng.randn(dims[l], dims[l - 1]))
    return draws


def _common_factor(W: np.ndarray, Z: np.ndarray) -> float | None:
    """c when W = c Z to EXACT_RTOL, else None."""
    c = float(np.dot(W.ravel(), Z.ravel()) / np.dot(Z.ravel(), Z.ravel()))
    return c if np.allclose(W, c * Z, rtol=EXACT_RTOL, atol=0) else None


def _weights(method: str, dims: list[int], weights: list[np.ndarray]) -> _Call:
    """Diagnoses of weights that are not the expected values, and the credit left."""
    for reseeded in (False, True):
        draws = _draws(dims, reseeded)
        factors = [_common_factor(W, Z) for W, Z in zip(weights, draws, strict=True)]
        if all(c is not None for c in factors):
            diagnoses = [
                d
                for l, c in enumerate(factors, start=1)
                if (d := _scale_diagnosis(method, l, dims[l - 1], dims[l], abs(c), 1e-9))
            ]
            if reseeded:
                diagnoses.insert(
                    0,
                    Diagnosis(
                        "wrong_seed",
                        "every layer starts the generator again: np.random.seed(3) is called "
                        "inside the loop; call it once, before the loop",
                    ),
                )
                credit = CREDIT_WRONG_SCALE if len(diagnoses) > 1 else CREDIT_WRONG_SEED
                return _Call(diagnoses, credit)
            return _Call(diagnoses, CREDIT_WRONG_SCALE)
    diagnoses = []
    measured_any = False
    for l, W in enumerate(weights, start=1):
        if W.size < MIN_WEIGHTS_FOR_STATISTICS:
            continue
        measured_any = True
        values = W.ravel()
        rms = float(np.sqrt(np.mean(values**2)))
        centred = values - values.mean()
        kurtosis = float(np.mean(centred**4) / np.mean(centred**2) ** 2 - 3)
        standard_error = STANDARD_ERRORS / np.sqrt(2 * values.size)
        if kurtosis < UNIFORM_KURTOSIS_BELOW or abs(values.mean()) > 0.5 * rms:
            diagnoses.append(
                Diagnosis(
                    "uniform_not_normal",
                    f"W{l} does not look normal (mean {values.mean():.3g}, excess kurtosis "
                    f"{kurtosis:.2f}; a standard normal has 0 and 0, a uniform one -1.2): "
                    "draw with np.random.randn, not np.random.rand",
                )
            )
            continue
        problem = _scale_diagnosis(method, l, dims[l - 1], dims[l], rms, standard_error)
        if problem:
            diagnoses.append(problem)
    if diagnoses:
        return _Call(diagnoses, CREDIT_WRONG_SCALE)
    if not measured_any:
        message = (
            "the weights are not the values np.random.seed(3) gives: call np.random.seed(3) "
            "once, before the loop, and draw each layer with np.random.randn"
        )
        return _Call([Diagnosis("wrong_seed", message)], CREDIT_WRONG_SEED, measured=False)
    return _Call(
        [
            Diagnosis(
                "wrong_seed",
                "the scale and distribution are right, but "
                "the weights are not the values np.random.seed(3) gives: call "
                "np.random.seed(3) once, before the loop, and draw each layer with "
                "np.random.randn(layers_dims[l], layers_dims[l - 1]) in order l = 1, 2, ...",
            )
        ],
        CREDIT_WRONG_SEED,
    )


# Trace tolerances. The kernel gives the same bits everywhere, but a correct
# answer may differ from ours in the last bit ((2/n)**0.5 against np.sqrt(2/n)):
# zeros, He and Xavier carry that over 15000 iterations to ~1e-13; random x10
# saturates, and then its trace depends on the last bits (SPEC section 4), so
# only what does not is compared: inf at iteration 0, the accuracies, the end.
TRACE_RTOL = 1e-9
RANDOM_FINAL_RTOL = 0.03


def check_training(name: str, parameters: dict) -> Diagnosis | None:
    """Train the course model from the student's parameters; None when the cost
    trace is the reference's (within what is portable), else the diagnosis."""
    from initlab import kernel
    from initlab.datasets import load_circles

    method = METHODS[name]
    ours = reference.initialize_parameters([2, 10, 5, 1], method, seed=SEED)
    if ours.keys() == parameters.keys() and all(
        np.array_equal(parameters[key], value) for key, value in ours.items()
    ):
        return None  # the same bits: the kernel, being deterministic, gives our trace
    train_X, train_Y, test_X, test_Y = load_circles()
    expected_trace, expected_accuracy = _reference_training(method)
    try:
        trained, trace = kernel.train(train_X, train_Y, parameters)
    except (TypeError, ValueError) as error:
        return Diagnosis("trace_wrong", f"the course model cannot train from these: {error}")
    accuracy = (
        reference.accuracy(kernel.forward(train_X, trained), train_Y),
        reference.accuracy(kernel.forward(test_X, trained), test_Y),
    )
    if method != "random":
        if np.allclose(trace, expected_trace, rtol=TRACE_RTOL, atol=0):
            return None
        first = int(np.argmax(~np.isclose(trace, expected_trace, rtol=TRACE_RTOL, atol=0)))
    else:
        if (
            trace[0] == np.inf
            and accuracy == expected_accuracy
            and abs(trace[-1] - expected_trace[-1]) <= RANDOM_FINAL_RTOL * expected_trace[-1]
        ):
            return None
        first = len(trace) - 1
    return Diagnosis(
        "trace_wrong",
        f"training the course model from these parameters gives cost {float(trace[first])!r} "
        f"at iteration {first * 1000}, expected {float(expected_trace[first])!r}; accuracy "
        f"{accuracy[0]:.3g} / {accuracy[1]:.3g}, expected "
        f"{expected_accuracy[0]:.3g} / {expected_accuracy[1]:.3g}",
    )


_TRAINED: dict[str, tuple[np.ndarray, tuple[float, float]]] = {}


def _reference_training(method: str) -> tuple[np.ndarray, tuple[float, float]]:
    """The reference parameters' cost trace and accuracies, computed once per process."""
    if method not in _TRAINED:
        from initlab import kernel
        from initlab.datasets import load_circles

        train_X, train_Y, test_X, test_Y = load_circles()
        parameters = reference.initialize_parameters([2, 10, 5, 1], method, seed=SEED)
        trained, trace = kernel.train(train_X, train_Y, parameters)
        accuracy = (
            reference.accuracy(kernel.forward(train_X, trained), train_Y),
            reference.accuracy(kernel.forward(test_X, trained), test_Y),
        )
        _TRAINED[method] = (trace, accuracy)
    return _TRAINED[method]
