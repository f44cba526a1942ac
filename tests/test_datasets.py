"""The data sets, pinned to the course's check values (SPEC section 1 and 5)."""

import numpy as np
import pytest

from initlab import kernel, load_circles, load_planar


def test_circles_shapes_and_types(circles):
    train_X, train_Y, test_X, test_Y = circles
    assert train_X.shape == (2, 300) and test_X.shape == (2, 100)
    assert train_Y.shape == (1, 300) and test_Y.shape == (1, 100)
    assert train_X.dtype == np.float64 and train_Y.dtype == np.intp


def test_circles_check_values(circles):
    train_X, train_Y, test_X, _ = circles
    assert train_X[:, 0].tolist() == [-0.07741354010048114, 0.8526022642742742]
    assert train_Y[0, :10].tolist() == [1, 0, 1, 1, 0, 0, 1, 0, 1, 1]
    assert int(train_Y.sum()) == 150
    assert test_X[:, 0].tolist() == [-0.5242373850862546, -0.6091036148461817]


def test_circles_ignore_and_keep_global_random_state():
    np.random.seed(123)
    expected_next = np.random.rand()
    np.random.seed(123)
    first = load_circles()
    assert np.random.rand() == expected_next
    for a, b in zip(first, load_circles(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_circles_match_scikit_learn_bit_for_bit():
    datasets = pytest.importorskip("sklearn.datasets")
    train_X, train_Y, test_X, test_Y = load_circles()
    for seed, (X, Y) in ((1, (train_X, train_Y)), (2, (test_X, test_Y))):
        np.random.seed(seed)
        expected_X, expected_y = datasets.make_circles(n_samples=X.shape[1], noise=0.05)
        np.testing.assert_array_equal(X, expected_X.T)
        np.testing.assert_array_equal(Y, expected_y.reshape(1, -1))


def test_planar_shapes_and_balance():
    X, Y = load_planar()
    assert X.shape == (2, 400) and Y.shape == (1, 400) and Y.dtype == np.uint8
    assert int(Y.sum()) == 200
    assert np.all(np.abs(X) < 5)


def test_planar_shallow_model_reproduces_the_published_run():
    """n_h = 4, tanh, lr 1.2: cost 0.693048 at iteration 0 (seed 2 init), about 90% accuracy."""
    X, Y = load_planar()
    rng = np.random.RandomState(2)
    parameters = {
        "W1": rng.randn(4, 2) * 0.01,
        "b1": np.zeros((4, 1)),
        "W2": rng.randn(1, 4) * 0.01,
        "b2": np.zeros((1, 1)),
    }
    trained, costs = kernel.train(
        X, Y, parameters, learning_rate=1.2, num_iterations=10000, hidden_activation="tanh"
    )
    assert round(costs[0], 6) == 0.693048
    accuracy = np.mean((kernel.forward(X, trained, "tanh") > 0.5) == Y)
    assert 0.89 <= accuracy <= 0.92, accuracy
