"""The initializer checks grade the grader: right answers in any style pass, each mistake gets its code."""

import numpy as np
import pytest

from initlab.assignments.initialization import INITIALIZER_DIMS, MEASURED_DIMS
from initlab.checks.initializers import (
    CREDIT_BIAS,
    CREDIT_WRONG_SCALE,
    CREDIT_WRONG_SEED,
    check_initializer,
)

COURSE = [2, 10, 5, 1]
# Layers large enough for the scale and the distribution to be measured, with
# fan-in and fan-out far apart so every scale mistake has its own value.
LARGE = [300, 200, 100, 1]


def grade(name, function, max_score=10.0):
    """What a grader does: call the student function on several layer sizes, judge the results."""
    calls = [(dims, function(list(dims))) for dims in (COURSE, [3, 2, 1], LARGE)]
    return check_initializer(name, calls, max_score=max_score)


def codes(verdict):
    return [d.code for d in verdict.diagnoses]


# --- correct implementations, in several styles ------------------------------


def he_course_style(layers_dims):
    np.random.seed(3)
    parameters = {}
    L = len(layers_dims)
    for l in range(1, L):
        parameters["W" + str(l)] = np.random.randn(layers_dims[l], layers_dims[l - 1]) * np.sqrt(
            2.0 / layers_dims[l - 1]
        )
        parameters["b" + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters


def he_comprehension_and_power(layers_dims):
    np.random.seed(3)
    weights = [
        np.random.randn(n, n_prev) * (2 / n_prev) ** 0.5
        for n_prev, n in zip(layers_dims[:-1], layers_dims[1:], strict=True)
    ]
    return {
        key: value
        for l, W in enumerate(weights, start=1)
        for key, value in ((f"W{l}", W), (f"b{l}", np.zeros((W.shape[0], 1))))
    }


def he_normal_with_size(layers_dims):
    np.random.seed(3)
    parameters = {}
    for l in range(1, len(layers_dims)):
        scale = np.sqrt(2 / layers_dims[l - 1])
        parameters[f"W{l}"] = np.random.normal(0, scale, size=(layers_dims[l], layers_dims[l - 1]))
    for l in range(len(layers_dims) - 1, 0, -1):  # biases in another order: no draws involved
        parameters[f"b{l}"] = np.zeros((layers_dims[l], 1))
    return parameters


def he_divided(layers_dims):
    np.random.seed(3)
    parameters = {}
    for l in range(1, len(layers_dims)):
        W = np.random.randn(layers_dims[l], layers_dims[l - 1]) / np.sqrt(layers_dims[l - 1] / 2)
        parameters[f"W{l}"], parameters[f"b{l}"] = W, np.zeros((layers_dims[l], 1))
    return parameters


@pytest.mark.parametrize(
    "function",
    [he_course_style, he_comprehension_and_power, he_normal_with_size, he_divided],
)
def test_correct_he_in_any_style_gets_full_marks(function):
    verdict = grade("initialize_parameters_he", function)
    assert (verdict.status, verdict.score, codes(verdict)) == ("passed", 10.0, [])
    assert verdict.message == "correct"


def scaled(scale_of, seed=3, draw=None, reseed_each_layer=False, bias=None):
    """A course-style initializer with the given scale rule (fan_in, fan_out) -> factor."""

    def initialize(layers_dims):
        np.random.seed(seed)
        parameters = {}
        for l in range(1, len(layers_dims)):
            if reseed_each_layer:
                np.random.seed(seed)
            shape = (layers_dims[l], layers_dims[l - 1])
            values = draw(*shape) if draw else np.random.randn(*shape)
            parameters[f"W{l}"] = values * scale_of(layers_dims[l - 1], layers_dims[l])
            parameters[f"b{l}"] = bias(layers_dims[l]) if bias else np.zeros((layers_dims[l], 1))
        return parameters

    return initialize


@pytest.mark.parametrize(
    "name, scale_of",
    [
        ("initialize_parameters_random", lambda fan_in, fan_out: 10),
        ("initialize_parameters_xavier", lambda fan_in, fan_out: np.sqrt(1 / fan_in)),
    ],
)
def test_correct_random_and_xavier_get_full_marks(name, scale_of):
    verdict = grade(name, scaled(scale_of))
    assert (verdict.status, verdict.score, codes(verdict)) == ("passed", 10.0, [])


def test_correct_zeros_gets_full_marks():
    def zeros(layers_dims):
        return {
            key: np.zeros(shape)
            for l in range(1, len(layers_dims))
            for key, shape in (
                (f"W{l}", (layers_dims[l], layers_dims[l - 1])),
                (f"b{l}", (layers_dims[l], 1)),
            )
        }

    verdict = grade("initialize_parameters_zeros", zeros)
    assert (verdict.status, verdict.score, codes(verdict)) == ("passed", 10.0, [])


# --- one wrong submission per diagnosis code ---------------------------------

HE = lambda fan_in, fan_out: np.sqrt(2 / fan_in)  # noqa: E731


def _as_list(layers_dims):
    return list(he_course_style(layers_dims).values())


def _renamed(layers_dims):
    return {k.replace("W", "W_"): v for k, v in he_course_style(layers_dims).items()}


def _listed(layers_dims):
    return {
        k: v.tolist() if k.startswith("W") else v for k, v in he_course_style(layers_dims).items()
    }


def _matrix(layers_dims):
    return {k: np.asmatrix(v) for k, v in he_course_style(layers_dims).items()}


def _float32(layers_dims):
    return {k: v.astype(np.float32) for k, v in he_course_style(layers_dims).items()}


def _transposed(layers_dims):
    return {
        k: v.T.copy() if k.startswith("W") else v for k, v in he_course_style(layers_dims).items()
    }


def _wrong_width(layers_dims):
    parameters = he_course_style(layers_dims)
    parameters["W1"] = np.random.randn(layers_dims[1], layers_dims[0] + 1)
    return parameters


def _constant(layers_dims):
    return {
        k: np.full_like(v, 0.5) if k.startswith("W") else v
        for k, v in he_course_style(layers_dims).items()
    }


def _uniform(layers_dims):
    return scaled(HE, draw=np.random.rand)(layers_dims)


@pytest.mark.parametrize(
    "name, function, code, credit",
    [
        ("initialize_parameters_he", _as_list, "not_a_dict", 0),
        ("initialize_parameters_he", _renamed, "wrong_keys", 0),
        ("initialize_parameters_he", _listed, "not_ndarray", 0),
        ("initialize_parameters_he", _matrix, "not_ndarray", 0),
        ("initialize_parameters_he", _float32, "wrong_dtype", 0),
        ("initialize_parameters_he", _transposed, "transposed", 0),
        ("initialize_parameters_he", _wrong_width, "wrong_shape", 0),
        ("initialize_parameters_he", _constant, "constant_init", 0),
        ("initialize_parameters_zeros", he_course_style, "not_zero", 0),
        (
            "initialize_parameters_he",
            scaled(HE, bias=lambda n: np.zeros(n)),
            "bias_shape",
            CREDIT_BIAS,
        ),
        (
            "initialize_parameters_he",
            scaled(HE, bias=lambda n: np.ones((n, 1))),
            "bias_not_zero",
            CREDIT_BIAS,
        ),
        (
            "initialize_parameters_he",
            scaled(lambda i, o: np.sqrt(1 / i)),
            "scale_xavier",
            CREDIT_WRONG_SCALE,
        ),
        ("initialize_parameters_xavier", scaled(HE), "scale_he", CREDIT_WRONG_SCALE),
        (
            "initialize_parameters_he",
            scaled(lambda i, o: np.sqrt(2 / o)),
            "scale_fan_out",
            CREDIT_WRONG_SCALE,
        ),
        (
            "initialize_parameters_he",
            scaled(lambda i, o: 2 / i),
            "scale_missing_sqrt",
            CREDIT_WRONG_SCALE,
        ),
        # 0.05 matches none of the usual mistakes' factors on the layers graded here
        ("initialize_parameters_he", scaled(lambda i, o: 0.05), "scale_wrong", CREDIT_WRONG_SCALE),
        ("initialize_parameters_random", scaled(lambda i, o: 1), "scale_wrong", CREDIT_WRONG_SCALE),
        ("initialize_parameters_he", _uniform, "uniform_not_normal", CREDIT_WRONG_SCALE),
        ("initialize_parameters_he", scaled(HE, seed=1), "wrong_seed", CREDIT_WRONG_SEED),
        (
            "initialize_parameters_he",
            scaled(HE, reseed_each_layer=True),
            "wrong_seed",
            CREDIT_WRONG_SEED,
        ),
        (
            "initialize_parameters_random",
            scaled(lambda i, o: 10, seed=0),
            "wrong_seed",
            CREDIT_WRONG_SEED,
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_each_mistake_gets_its_diagnosis_and_credit(name, function, code, credit):
    verdict = grade(name, function)
    assert codes(verdict) == [code], verdict.message
    assert verdict.status == "failed"
    assert verdict.score == pytest.approx(10.0 * credit)
    assert "\n" not in verdict.message and verdict.message


def test_no_seed_at_all_is_a_seed_mistake():
    def unseeded(layers_dims):
        parameters = {}
        for l in range(1, len(layers_dims)):
            parameters[f"W{l}"] = np.random.randn(layers_dims[l], layers_dims[l - 1]) * np.sqrt(
                2 / layers_dims[l - 1]
            )
            parameters[f"b{l}"] = np.zeros((layers_dims[l], 1))
        return parameters

    np.random.seed(12345)  # whatever state the generator happens to be in
    verdict = grade("initialize_parameters_he", unseeded)
    assert codes(verdict) == ["wrong_seed"] and verdict.score == 10.0 * CREDIT_WRONG_SEED


def test_another_generator_with_the_right_scale_is_only_a_seed_mistake():
    def generator(layers_dims):
        rng = np.random.default_rng(3)
        return {
            key: value
            for l in range(1, len(layers_dims))
            for key, value in (
                (
                    f"W{l}",
                    rng.standard_normal((layers_dims[l], layers_dims[l - 1]))
                    * np.sqrt(2 / layers_dims[l - 1]),
                ),
                (f"b{l}", np.zeros((layers_dims[l], 1))),
            )
        }

    verdict = grade("initialize_parameters_he", generator)
    assert codes(verdict) == ["wrong_seed"]
    assert "scale and distribution are right" in verdict.message


def test_other_seed_and_xavier_scale_is_found_by_measurement():
    """No exact draws to compare with: the scale is measured on the large layers."""
    verdict = grade("initialize_parameters_he", scaled(lambda i, o: np.sqrt(1 / i), seed=7))
    assert codes(verdict) == ["scale_xavier"]
    assert "sqrt(1/300)" in verdict.message and "He" in verdict.message


def test_scale_message_gives_the_measured_and_expected_numbers():
    verdict = grade("initialize_parameters_he", scaled(lambda i, o: np.sqrt(1 / i)))
    message = verdict.message
    assert "W1 is scaled by 0.7071 = sqrt(1/2)" in message
    assert "sqrt(2/2) = 1" in message


def test_random_without_the_factor_10_is_told_so():
    verdict = grade("initialize_parameters_random", scaled(lambda i, o: 1))
    assert verdict.message == (
        "W1 is scaled by 1; large random initialization uses 10 "
        "(checked on layers_dims = [2, 10, 5, 1])"
    )


def test_json_entry_has_the_documented_fields():
    entry = grade("initialize_parameters_he", he_course_style).to_json()
    assert entry == {
        "name": "initialize_parameters_he",
        "score": 10.0,
        "max_score": 10.0,
        "status": "passed",
        "diagnoses": [],
        "message": "correct",
        "source": "",
    }


def test_the_graders_solution_gets_full_marks():
    import importlib.util
    from pathlib import Path

    path = (
        Path(__file__).resolve().parents[1]
        / "graders"
        / "solutions"
        / "initialization"
        / "initialization.py"
    )
    spec = importlib.util.spec_from_file_location("solution_initialization", path)
    solution = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(solution)
    for name in (
        "initialize_parameters_zeros",
        "initialize_parameters_random",
        "initialize_parameters_he",
        "initialize_parameters_xavier",
    ):
        verdict = grade(name, getattr(solution, name))
        assert (verdict.status, verdict.score) == ("passed", 10.0), verdict.message


def test_training_tolerates_last_bit_differences_even_for_random():
    """A right answer computed another way (one ulp off) passes on any machine, random x10 too."""
    from initlab import reference
    from initlab.checks.initializers import check_training

    for method in ("zeros", "random", "he", "xavier"):
        parameters = reference.initialize_parameters([2, 10, 5, 1], method)
        one_ulp = {k: np.nextafter(v, np.inf) if k[0] == "W" else v for k, v in parameters.items()}
        assert check_training(f"initialize_parameters_{method}", one_ulp) is None, method


def test_training_rejects_parameters_that_train_differently():
    from initlab import reference
    from initlab.checks.initializers import check_training

    parameters = reference.initialize_parameters([2, 10, 5, 1], "he")
    off = {k: v * (1 + 1e-6) for k, v in parameters.items()}
    diagnosis = check_training("initialize_parameters_he", off)
    assert diagnosis.code == "trace_wrong"
    assert "iteration 0" in diagnosis.message and "0.883053" in diagnosis.message


GRADER_DIMS = INITIALIZER_DIMS + [MEASURED_DIMS]


def graded_as_the_grader_does(name, function):
    return check_initializer(name, [(d, function(list(d))) for d in GRADER_DIMS], max_score=10)


@pytest.mark.parametrize(
    "name, scale_of, code",
    [
        # sqrt(2 / n_l): on [2, 4, 1] it equals Xavier's sqrt(1/2) on W1.
        ("initialize_parameters_he", lambda i, o: np.sqrt(2 / o), "scale_fan_out"),
        # 2 / n_{l-1}: on [2, 4, 1] it equals sqrt(1/4) on W2.
        ("initialize_parameters_he", lambda i, o: 2 / i, "scale_missing_sqrt"),
        ("initialize_parameters_he", lambda i, o: np.sqrt(1 / i), "scale_xavier"),
        ("initialize_parameters_xavier", lambda i, o: np.sqrt(2 / i), "scale_he"),
        ("initialize_parameters_xavier", lambda i, o: np.sqrt(1 / o), "scale_fan_out"),
        ("initialize_parameters_xavier", lambda i, o: 1 / i, "scale_missing_sqrt"),
    ],
)
def test_a_scale_mistake_gets_one_diagnosis_on_the_graders_networks(name, scale_of, code):
    """Networks where two mistakes give the same number cannot decide alone: the
    diagnosis is the one mistake that explains every layer of every network."""
    verdict = graded_as_the_grader_does(name, scaled(scale_of))
    assert codes(verdict) == [code], verdict.message
    assert "checked on layers_dims = [" in verdict.message


def test_the_graders_networks_tell_every_usual_scale_apart():
    """On one of the checked networks, every layer's candidate scales differ by 15%."""

    def distinct(dims):
        for fan_in, fan_out in zip(dims, dims[1:], strict=False):
            scales = sorted([np.sqrt(2 / fan_in), np.sqrt(1 / fan_in), np.sqrt(2 / fan_out),
                             np.sqrt(1 / fan_out), 2 / fan_in, 1 / fan_in, 1.0, 10.0])  # fmt: skip
            if any(b / a < 1.15 for a, b in zip(scales, scales[1:], strict=False)):
                return False
        return True

    assert any(distinct(dims) for dims in INITIALIZER_DIMS)
