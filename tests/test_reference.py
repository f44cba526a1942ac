"""The reference initializations reproduce the course's published test-cell values (SPEC section 3)."""

import numpy as np
import pytest

from initlab import reference


def test_random_matches_published():
    p = reference.initialize_parameters([3, 2, 1], "random")
    np.testing.assert_allclose(
        p["W1"],
        [[17.88628473, 4.36509851, 0.96497468], [-18.63492703, -2.77388203, -3.54758979]],
        atol=5e-9,
    )
    np.testing.assert_allclose(p["W2"], [[-0.82741481, -6.27000677]], atol=5e-9)
    assert not p["b1"].any() and p["b1"].shape == (2, 1) and p["b2"].shape == (1, 1)


@pytest.mark.parametrize(
    "dims, W1, W2",
    [
        (
            [2, 4, 1],
            [
                [1.78862847, 0.43650985],
                [0.09649747, -1.8634927],
                [-0.2773882, -0.35475898],
                [-0.08274148, -0.62700068],
            ],
            [[-0.03098412, -0.33744411, -0.92904268, 0.62552248]],
        ),
        ([3, 1, 2], [[1.46040903, 0.3564088, 0.07878985]], [[-2.63537665], [-0.39228616]]),
    ],
)
def test_he_matches_published(dims, W1, W2):
    p = reference.initialize_parameters(dims, "he")
    np.testing.assert_allclose(p["W1"], W1, atol=5e-9)
    np.testing.assert_allclose(p["W2"], W2, atol=5e-9)


def test_xavier_is_he_over_sqrt2_and_zeros_are_zero():
    he = reference.initialize_parameters([5, 7, 3], "he")
    xavier = reference.initialize_parameters([5, 7, 3], "xavier")
    for l in (1, 2):
        np.testing.assert_allclose(xavier[f"W{l}"] * np.sqrt(2), he[f"W{l}"], rtol=1e-15)
    zeros = reference.initialize_parameters([5, 7, 3], "zeros")
    assert all(not v.any() for v in zeros.values())


def test_initialization_leaves_global_random_state_alone():
    np.random.seed(7)
    expected = np.random.rand()
    np.random.seed(7)
    reference.initialize_parameters([2, 10, 5, 1], "he")
    assert np.random.rand() == expected


@pytest.mark.parametrize("method, dims", [("lecun", [2, 1]), ("he", [2]), ("he", [2, 0, 1])])
def test_bad_initialization_arguments(method, dims):
    with pytest.raises(ValueError):
        reference.initialize_parameters(dims, method)


def test_loss_uses_nansum():
    """A saturated unit with the matching label is nan in logprobs and skipped; a wrong one is inf."""
    assert reference.compute_loss(np.array([[1.0, 0.5]]), np.array([[1, 1]])) == pytest.approx(
        np.log(2) / 2
    )
    assert reference.compute_loss(np.array([[1.0, 0.5]]), np.array([[0, 1]])) == np.inf
