"""The course's data sets, reproduced bit for bit with numpy alone.

``load_circles`` is scikit-learn's ``make_circles`` as the course calls it
(global legacy RNG seeded with 1 for the training set and 2 for the test set);
``load_planar`` is the "flower" data of the shallow-network exercise.
"""

from __future__ import annotations

import numpy as np

__all__ = ["load_circles", "load_planar", "make_circles"]


def make_circles(
    n_samples: int, noise: float, random_state: np.random.RandomState, factor: float = 0.8
) -> tuple[np.ndarray, np.ndarray]:
    """Two noisy concentric circles, scikit-learn's algorithm and draw order.

    Returns X of shape (n_samples, 2) and integer labels y (0 outer, 1 inner).
    The examples are shuffled first, then the Gaussian noise is added.
    """
    n_out = n_samples // 2
    n_in = n_samples - n_out
    angles_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    angles_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    X = np.vstack(
        [
            np.append(np.cos(angles_out), np.cos(angles_in) * factor),
            np.append(np.sin(angles_out), np.sin(angles_in) * factor),
        ]
    ).T
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    order = np.arange(n_samples)
    random_state.shuffle(order)
    X, y = X[order], y[order]
    X += random_state.normal(scale=noise, size=X.shape)
    return X, y


def load_circles() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train_X (2, 300), train_Y (1, 300), test_X (2, 100), test_Y (1, 100)), as the course.

    Labels are integers (numpy's intp), as scikit-learn returns them.
    """
    train_X, train_Y = make_circles(300, noise=0.05, random_state=np.random.RandomState(1))
    test_X, test_Y = make_circles(100, noise=0.05, random_state=np.random.RandomState(2))
    return train_X.T, train_Y.reshape(1, -1), test_X.T, test_Y.reshape(1, -1)


def load_planar() -> tuple[np.ndarray, np.ndarray]:
    """(X (2, 400), Y (1, 400)): the two-petal "flower" data, labels uint8."""
    rng = np.random.RandomState(1)
    m, a = 400, 4
    N = m // 2
    X = np.zeros((m, 2))
    Y = np.zeros((m, 1), dtype=np.uint8)
    for j in range(2):
        rows = slice(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + rng.randn(N) * 0.2
        r = a * np.sin(4 * t) + rng.randn(N) * 0.2
        X[rows] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[rows] = j
    return X.T, Y.T
