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
from initlab.messages import checked_on, say, text

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
        _on_network([int(n) for n in dims], _check_call(method, [int(n) for n in dims], result))
        for dims, result in calls
    ]
    credit = min((call.credit for call in judged), default=1.0)
    worst = sorted((call for call in judged if call.credit == credit), key=lambda c: not c.measured)
    scale = _one_scale([call.scales for call in judged if call.scales is not None])
    for call in worst:
        for diagnosis in call.diagnoses:
            if diagnosis.code in SCALE_CODES and scale is not None:
                diagnosis = scale
            if diagnosis.code not in {d.code for d in verdict.diagnoses}:
                verdict.diagnoses.append(diagnosis)
    verdict.score = round(max_score * credit, 6)
    verdict.status = "passed" if credit == 1.0 else "failed"
    return verdict


def _on_network(dims: list[int], call: _Call) -> _Call:
    """The call's messages, each saying the network it was checked on."""

    def named(diagnosis: Diagnosis) -> Diagnosis:
        where = f"layers_dims = {dims}"
        return diagnosis if where in diagnosis.message else checked_on(diagnosis, where)

    scales = {code: named(d) for code, d in call.scales.items()} if call.scales else call.scales
    return call._replace(diagnoses=[named(d) for d in call.diagnoses], scales=scales)


def _one_scale(alternatives: list[dict[str, Diagnosis]]) -> Diagnosis | None:
    """The one scale mistake that explains every call whose scale is wrong: networks
    where two mistakes give the same number (2/4 = 1/2) cannot decide alone. None
    when no call found the scale wrong; scale_wrong when no single mistake fits."""
    if not alternatives:
        return None
    common = [code for code in alternatives[0] if all(code in a for a in alternatives[1:])]
    named = [code for code in common if code != "scale_wrong"]
    if named:
        return alternatives[0][named[0]]
    return next((a["scale_wrong"] for a in alternatives if "scale_wrong" in a), None) or next(
        iter(alternatives[0].values())
    )


class _Call(NamedTuple):
    """The judgement of one call: what is wrong, the credit left, whether the weights
    could be measured (a small call with other values can only tell that), and when
    the scale is wrong, every mistake that explains all of this call's layers."""

    diagnoses: list[Diagnosis]
    credit: float
    measured: bool = True
    scales: dict[str, Diagnosis] | None = None


SCALE_CODES = ("scale_xavier", "scale_he", "scale_fan_out", "scale_missing_sqrt", "scale_wrong")


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
                diagnoses + [say("scale_wrong.not_finite", l=l)],
                0.0,
            )
    if method == "zeros":
        nonzero = [(l, W) for l, W in enumerate(weights, start=1) if W.any()]
        if nonzero:
            l, W = nonzero[0]
            return _Call(
                diagnoses + [say("not_zero", l=l, largest=float(np.max(np.abs(W))))],
                0.0,
            )
        return _Call(diagnoses, bias_credit)
    if all(
        np.allclose(W, expected[f"W{l}"], rtol=EXACT_RTOL, atol=0)
        for l, W in enumerate(weights, start=1)
    ):
        return _Call(diagnoses, bias_credit)
    for l, W in enumerate(weights, start=1):
        numerator = {"he": 2, "xavier": 1}.get(method)
        if numerator and not W.any() and numerator // dims[l - 1] == 0:
            return _Call(
                diagnoses
                + [
                    say(
                        "scale_integer_division",
                        l=l,
                        numerator=numerator,
                        fan_in=dims[l - 1],
                        l_prev=l - 1,
                    )
                ],
                CREDIT_WRONG_SCALE * bias_credit,
            )
        if W.size > 1 and np.ptp(W) == 0:
            return _Call(
                diagnoses + [say("constant_init", l=l, value=float(W.flat[0]))],
                0.0,
            )
    judged = _weights(method, dims, weights)
    if any(d.code == "bias_not_zero" for d in judged.diagnoses):
        diagnoses = [d for d in diagnoses if d.code != "bias_not_zero"]
    return _Call(
        diagnoses + judged.diagnoses, judged.credit * bias_credit, judged.measured, judged.scales
    )


def _structure(dims: list[int], result: object, expected: dict) -> Diagnosis | None:
    """The first structural mistake, or None."""
    if not isinstance(result, dict):
        return say("not_a_dict", type=type_name(result), keys=", ".join(expected))
    missing = [key for key in expected if key not in result]
    extra = [repr(key) for key in result if key not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(text("wrong_keys.missing", keys=", ".join(missing)))
        if extra:
            parts.append(text("wrong_keys.unexpected", keys=", ".join(extra)))
        return say("wrong_keys", problems="; ".join(parts), dims=dims, keys=", ".join(expected))
    for key in expected:
        value = result[key]
        if type(value) is not np.ndarray:
            return say("not_ndarray", key=key, type=type_name(value))
        if value.dtype != np.float64:
            return say("wrong_dtype", key=key, dtype=str(value.dtype))
    for l in range(1, len(dims)):
        W = result[f"W{l}"]
        want = (dims[l], dims[l - 1])
        if W.shape == want[::-1] and want[0] != want[1]:
            return say("transposed", l=l, l_prev=l - 1, shape=W.shape, expected=want)
        if W.shape != want:
            return say("wrong_shape", l=l, l_prev=l - 1, shape=W.shape, expected=want)
    return None


def _biases(dims: list[int], result: dict) -> list[Diagnosis]:
    diagnoses = []
    for l in range(1, len(dims)):
        b = result[f"b{l}"]
        if b.shape != (dims[l], 1):
            diagnoses.append(say("bias_shape", l=l, shape=b.shape, expected=(dims[l], 1)))
            break
    for l in range(1, len(dims)):
        b = result[f"b{l}"]
        if b.any():
            diagnoses.append(say("bias_not_zero", l=l, largest=float(np.max(np.abs(b)))))
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


def _candidate(method: str, code: str, fan_in: int, fan_out: int) -> tuple[float, str]:
    """The scale and formula a mistake gives on a layer."""
    numerator = 2.0 if method == "he" else 1.0
    if code in ("scale_xavier", "scale_he"):
        other = 1.0 if method == "he" else 2.0
        return float(np.sqrt(other / fan_in)), f"sqrt({other:g}/{fan_in})"
    if code == "scale_fan_out":
        return float(np.sqrt(numerator / fan_out)), f"sqrt({numerator:g}/{fan_out})"
    return numerator / fan_in, f"{numerator:g}/{fan_in}"


def _scales(
    method: str, dims: list[int], measured: dict[int, tuple[float, float]]
) -> dict[str, Diagnosis] | None:
    """None when every measured layer (l -> (scale, relative tolerance)) has the
    expected scale; else each mistake that explains every measured layer at once,
    with its message, the most specific first, and ``scale_wrong`` when none does."""

    def fits(scale: float, candidate: float, rtol: float) -> bool:
        return abs(scale - candidate) <= rtol * candidate

    expected = {l: _expected_scale(method, dims[l - 1]) for l in measured}
    wrong = [l for l, (scale, rtol) in measured.items() if not fits(scale, expected[l][0], rtol)]
    if not wrong:
        return None
    name = text(f"method.{method}")
    found = {}
    for code, _, _ in _candidates(method, 1, 1):
        at = {l: _candidate(method, code, dims[l - 1], dims[l]) for l in measured}
        if all(fits(scale, at[l][0], rtol) for l, (scale, rtol) in measured.items()):
            l = wrong[0]
            formula, scale = expected[l][1], expected[l][0]
            found[code] = say(
                code,
                l=l,
                l_prev=l - 1,
                fan_in=dims[l - 1],
                fan_out=dims[l],
                measured=measured[l][0],
                formula=at[l][1],
                method=name,
                expected_formula=formula,
                expected=scale,
            )
    l = wrong[0]
    scale, formula = expected[l]
    uses = formula if formula == f"{scale:g}" else f"{formula} = {_number(scale)}"
    found["scale_wrong"] = say("scale_wrong", l=l, measured=measured[l][0], method=name, uses=uses)
    return found


def _number(value: float) -> str:
    """A measured number for people: four significant digits, no numpy repr."""
    return f"{float(value):.4g}"


def _draws(dims: list[int], reseed_each_layer: bool, biases: bool = False) -> list[np.ndarray]:
    """Standard normal draws as ``np.random.seed(3)`` then ``randn`` layer by layer give
    them; with biases, each layer's bias is drawn after its weights."""
    rng = np.random.RandomState(SEED)
    draws = []
    for l in range(1, len(dims)):
        if reseed_each_layer:
            rng = np.random.RandomState(SEED)
        draws.append(rng.randn(dims[l], dims[l - 1]))
        if biases:
            rng.randn(dims[l], 1)
    return draws


def _common_factor(W: np.ndarray, Z: np.ndarray) -> float | None:
    """c when W = c Z to EXACT_RTOL, else None."""
    c = float(np.dot(W.ravel(), Z.ravel()) / np.dot(Z.ravel(), Z.ravel()))
    return c if np.allclose(W, c * Z, rtol=EXACT_RTOL, atol=0) else None


def _weights(method: str, dims: list[int], weights: list[np.ndarray]) -> _Call:
    """Diagnoses of weights that are not the expected values, and the credit left."""
    for reseeded, biases in ((False, False), (True, False), (False, True)):
        draws = _draws(dims, reseeded, biases)
        factors = [_common_factor(W, Z) for W, Z in zip(weights, draws, strict=True)]
        if all(c is not None for c in factors):
            measured = {l: (abs(c), 1e-9) for l, c in enumerate(factors, start=1)}
            scales = _scales(method, dims, measured)
            diagnoses = [next(iter(scales.values()))] if scales else []
            if biases:
                diagnoses.insert(
                    0,
                    say("bias_not_zero.drawn"),
                )
                return _Call(diagnoses, CREDIT_WRONG_SCALE if scales else 1.0, scales=scales)
            if reseeded:
                diagnoses.insert(
                    0,
                    say("wrong_seed.reseeded"),
                )
                credit = CREDIT_WRONG_SCALE if len(diagnoses) > 1 else CREDIT_WRONG_SEED
                return _Call(diagnoses, credit, scales=scales)
            return _Call(diagnoses, CREDIT_WRONG_SCALE, scales=scales)
    diagnoses = []
    measured: dict[int, tuple[float, float]] = {}
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
                say("uniform_not_normal", l=l, mean=float(values.mean()), kurtosis=kurtosis)
            )
            continue
        measured[l] = (rms, standard_error)
    scales = _scales(method, dims, measured) if measured else None
    if scales:
        diagnoses.append(next(iter(scales.values())))
    if diagnoses:
        return _Call(diagnoses, CREDIT_WRONG_SCALE, scales=scales)
    if not measured_any:
        return _Call([say("wrong_seed.small")], CREDIT_WRONG_SEED, measured=False)
    return _Call([say("wrong_seed")], CREDIT_WRONG_SEED)


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
        return say("trace_wrong.cannot_train", error=str(error))
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
    return say(
        "trace_wrong",
        cost=float(trace[first]),
        iteration=first * 1000,
        expected=float(expected_trace[first]),
        train=accuracy[0],
        test=accuracy[1],
        expected_train=expected_accuracy[0],
        expected_test=expected_accuracy[1],
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
