"""Bad input to the kernel (and the reference) is a one-line error that names it."""

import numpy as np
import pytest

from initlab import kernel, reference


def problem():
    X = np.ones((2, 5))
    Y = np.array([[0, 1, 1, 0, 1]])
    parameters = reference.initialize_parameters([2, 10, 5, 1], "he")
    return X, Y, parameters


def call_all(X, Y, parameters, **options):
    """Every entry point of both modules must reject the input the same way."""
    errors = []
    for module in (kernel, reference):
        for call in (
            lambda module=module: module.forward(
                X, parameters, options.get("hidden_activation", "relu")
            ),
            lambda module=module: module.gradients(
                X, Y, parameters, options.get("hidden_activation", "relu")
            ),
            lambda module=module: module.train(X, Y, parameters, num_iterations=2, **options),
        ):
            with pytest.raises((ValueError, TypeError)) as info:
                call()
            errors.append(info)
    return errors


def single_line(info):
    message = str(info.value)
    assert "\n" not in message
    return message


def test_transposed_W1_names_W1_and_both_shapes():
    X, Y, parameters = problem()
    parameters["W1"] = parameters["W1"].T.copy()
    for info in call_all(X, Y, parameters):
        message = single_line(info)
        assert info.type is ValueError
        assert "W1" in message and "(2, 10)" in message and "(10, 2)" in message
        assert "transposed" in message


@pytest.mark.parametrize(
    "mutate, kind, words",
    [
        (lambda p: p.pop("b2"), ValueError, ["missing b2"]),
        (lambda p: p.update(W9=np.ones((1, 1))), ValueError, ["missing", "W4"]),
        (lambda p: p.update(gamma1=np.ones((1, 1))), ValueError, ["gamma1"]),
        (
            lambda p: p.update(W2=p["W2"].astype(np.float32)),
            TypeError,
            ["W2", "float32", "float64"],
        ),
        (lambda p: p.update(W2=p["W2"].astype(np.int64)), TypeError, ["W2", "int64"]),
        (lambda p: p.update(W3=p["W3"].tolist()), TypeError, ["W3", "list", "ndarray"]),
        (lambda p: p.update(W3=np.asmatrix(p["W3"])), TypeError, ["W3", "matrix"]),
        (lambda p: p.update(b2=np.zeros(5)), ValueError, ["b2", "(5,)", "2-D"]),
        (lambda p: p.update(b2=np.zeros((1, 5))), ValueError, ["b2", "(1, 5)", "column"]),
        (lambda p: p.update(W2=np.ones((5, 9))), ValueError, ["W2", "(5, 9)", "(5, 10)"]),
        (lambda p: p["W3"].__setitem__((0, 1), np.nan), ValueError, ["W3", "non-finite", "(0, 1)"]),
    ],
    ids=[
        "missing-key",
        "gap-in-layers",
        "unknown-key",
        "float32",
        "int",
        "list",
        "matrix-subclass",
        "1d-bias",
        "row-bias",
        "wrong-width",
        "nan-weight",
    ],
)
def test_bad_parameters(mutate, kind, words):
    X, Y, parameters = problem()
    mutate(parameters)
    for info in call_all(X, Y, parameters):
        assert info.type is kind, single_line(info)
        message = single_line(info)
        for word in words:
            assert word in message, f"{word!r} not in {message!r}"


@pytest.mark.parametrize(
    "X, kind, words",
    [
        (np.ones((2, 5), dtype=np.int64), TypeError, ["X", "int64", "float64"]),
        (np.ones((2, 5), dtype=np.float32), TypeError, ["X", "float32"]),
        (
            np.array([[1.0, np.inf, 0, 0, 0], [0, 0, 0, 0, 0]]),
            ValueError,
            ["X", "non-finite", "(0, 1)"],
        ),
        (np.ones(5), ValueError, ["X", "2-D"]),
        (np.ones((3, 5)), ValueError, ["W1", "(10, 2)", "(10, 3)"]),
        ([[1.0] * 5] * 2, TypeError, ["X", "list"]),
    ],
    ids=["int", "float32", "inf", "1d", "wrong-features", "list"],
)
def test_bad_X(X, kind, words):
    _, Y, parameters = problem()
    for info in call_all(X, Y, parameters):
        assert info.type is kind
        message = single_line(info)
        for word in words:
            assert word in message, f"{word!r} not in {message!r}"


@pytest.mark.parametrize(
    "Y, kind, words",
    [
        (np.array([[0, 1, 1, 0, 1]], dtype=np.float32), TypeError, ["Y", "float32"]),
        (np.array([[0, 1, 1, 0, 1]], dtype=complex), TypeError, ["Y", "complex"]),
        (np.array([[0, 1, 1, 0, 1]], dtype=object), TypeError, ["Y", "object"]),
        (np.array([0, 1, 1, 0, 1]), ValueError, ["Y", "(5,)", "(1, 5)"]),
        (np.array([[0, 1, 1, 0]]), ValueError, ["Y", "(1, 4)", "(1, 5)"]),
        (np.array([[0, 1, 2, 0, 1]]), ValueError, ["Y", "[0, 1]"]),
        (np.array([[0, 1, np.nan, 0, 1]]), ValueError, ["Y", "non-finite"]),
    ],
    ids=["float32", "complex", "object", "1d", "wrong-m", "label-2", "nan"],
)
def test_bad_Y(Y, kind, words):
    X, _, parameters = problem()
    for module in (kernel, reference):
        for call in (
            lambda module=module: module.gradients(X, Y, parameters),
            lambda module=module: module.train(X, Y, parameters, num_iterations=1),
        ):
            with pytest.raises(kind) as info:
                call()
            message = single_line(info)
            for word in words:
                assert word in message, f"{word!r} not in {message!r}"


def test_unknown_activation():
    X, Y, parameters = problem()
    for info in call_all(X, Y, parameters, hidden_activation="softplus"):
        assert info.type is ValueError
        message = single_line(info)
        assert "hidden_activation" in message and "softplus" in message and "relu" in message


@pytest.mark.parametrize(
    "options, kind, word",
    [
        (dict(learning_rate=float("nan")), ValueError, "learning_rate"),
        (dict(learning_rate="0.1"), TypeError, "learning_rate"),
        (dict(num_iterations=-1), ValueError, "num_iterations"),
        (dict(num_iterations=2.5), TypeError, "num_iterations"),
        (dict(record_every=0), ValueError, "record_every"),
    ],
)
def test_bad_training_options(options, kind, word):
    X, Y, parameters = problem()
    for module in (kernel, reference):
        call = dict(num_iterations=2)
        call.update(options)
        with pytest.raises(kind, match=word):
            module.train(X, Y, parameters, **call)


def test_valid_input_is_accepted_and_not_changed():
    """The checks are not so strict that correct input fails; nothing is modified in place."""
    X, Y, parameters = problem()
    X_before, Y_before = X.copy(), Y.copy()
    kernel.train(X, Y, parameters, num_iterations=3)
    kernel.train(np.asfortranarray(X), Y, parameters, num_iterations=3)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(Y, Y_before)
