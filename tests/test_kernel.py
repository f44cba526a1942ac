"""The compiled kernel against the numpy reference, finite differences and the published traces."""

import os
import secrets
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from initlab import kernel, reference
from tests.conftest import HE_TRACE, ZEROS_TRACE

ACTIVATIONS = reference.ACTIVATIONS

# Layer sizes chosen to hit every code path: widths that are and are not
# multiples of the 4-row register block, one unit, one input, a deep net.
NETWORKS = [
    [1, 1],
    [3, 1],
    [2, 10, 5, 1],
    [5, 4, 4, 3],
    [7, 3, 9, 6, 2],
    [12, 33, 17, 1],
    [4, 6, 5, 4, 3, 2, 1],
]
# Batch sizes around the 8-column block and numpy's pairwise-sum block of 128.
BATCHES = [1, 3, 8, 13, 129, 300]


class SeededGenerator:
    """A numpy Generator that remembers its seed, for failure messages."""

    def __init__(self, seed):
        self.seed_value = seed
        self._generator = np.random.default_rng(seed)

    def __getattr__(self, name):
        return getattr(self._generator, name)


@pytest.fixture
def rng():
    """A fresh generator on every run; the seed is in every failure message."""
    return SeededGenerator(secrets.randbits(32))


def random_problem(rng, dims, m, scale=1.0):
    X = rng.normal(size=(dims[0], m))
    Y = (rng.random((dims[-1], m)) < 0.5).astype(np.float64)
    parameters = {}
    for l in range(1, len(dims)):
        parameters[f"W{l}"] = rng.normal(size=(dims[l], dims[l - 1])) * scale / np.sqrt(dims[l - 1])
        parameters[f"b{l}"] = rng.normal(size=(dims[l], 1)) * 0.1
    return X, Y, parameters


def assert_close_scaled(actual, expected, rtol, what):
    """Elementwise rtol, with an absolute floor of rtol * max|expected|.

    The kernel and numpy (BLAS) sum in different orders; an entry that is a
    near-cancelling sum has an absolute error of a few ulp of its largest terms,
    which the floor allows while still catching any real difference.
    """
    scale = max(np.max(np.abs(expected)), np.finfo(float).tiny)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=what)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dims", NETWORKS, ids=str)
def test_forward_matches_reference(rng, dims, activation):
    for m in BATCHES:
        X, _, parameters = random_problem(rng, dims, m)
        AL = kernel.forward(X, parameters, activation)
        expected = reference.forward(X, parameters, activation)
        assert AL.shape == (dims[-1], m) and AL.dtype == np.float64
        # Sigmoid outputs lie in (0, 1): an elementwise relative test is meaningful.
        np.testing.assert_allclose(
            AL,
            expected,
            rtol=1e-12,
            atol=0,
            err_msg=f"dims {dims}, m {m}, {activation}, seed {rng.seed_value}",
        )


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dims", NETWORKS, ids=str)
def test_gradients_match_reference(rng, dims, activation):
    for m in BATCHES:
        X, Y, parameters = random_problem(rng, dims, m)
        cost, grads = kernel.gradients(X, Y, parameters, activation)
        expected_cost, expected = reference.gradients(X, Y, parameters, activation)
        where = f"dims {dims}, m {m}, {activation}, seed {rng.seed_value}"
        assert cost == pytest.approx(expected_cost, rel=1e-12), where
        assert list(grads) == list(expected), where
        for key in expected:
            assert grads[key].shape == expected[key].shape, f"{key}: {where}"
            assert_close_scaled(grads[key], expected[key], 1e-12, f"{key}: {where}")


# Large products (fused multiply-adds, packed, over threads): [101, 150, 37, 3] with
# widths and a batch that are no multiple of any build's tile, so every tail is
# exercised; LARGE with several blocks of k (counts past GEMM_KC = 384) in all three
# products (W A, dZ A^T over m = 401 examples, W^T dZ).
LARGE = [450, 50, 400, 2], 401


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dims, m", [([101, 150, 37, 3], 203), LARGE], ids=str)
def test_large_layers_match_reference(rng, dims, m, activation):
    """Compared with the reference like the small networks'."""
    X, Y, parameters = random_problem(rng, dims, m)
    cost, grads = kernel.gradients(X, Y, parameters, activation)
    expected_cost, expected = reference.gradients(X, Y, parameters, activation)
    where = f"{activation}, seed {rng.seed_value}"
    assert cost == pytest.approx(expected_cost, rel=1e-12), where
    np.testing.assert_allclose(
        kernel.forward(X, parameters, activation),
        reference.forward(X, parameters, activation),
        rtol=1e-12,
        err_msg=where,
    )
    for key in expected:
        assert_close_scaled(grads[key], expected[key], 1e-12, f"{key}: {where}")



@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dims", [[3, 7, 5, 2], [6, 12, 11, 1]], ids=str)
def test_batches_of_several_tiles_match_reference(rng, dims, activation):
    """Short products go by tiles of 512 columns: batches of 2 and 3 tiles, the last
    one not a multiple of 4, match the reference like the small batches."""
    for m in (515, 1029):
        X, Y, parameters = random_problem(rng, dims, m)
        where = f"dims {dims}, m {m}, {activation}, seed {rng.seed_value}"
        np.testing.assert_allclose(
            kernel.forward(X, parameters, activation),
            reference.forward(X, parameters, activation),
            rtol=1e-12,
            atol=0,
            err_msg=where,
        )
        cost, grads = kernel.gradients(X, Y, parameters, activation)
        expected_cost, expected = reference.gradients(X, Y, parameters, activation)
        assert cost == pytest.approx(expected_cost, rel=1e-12), where
        for key in expected:
            assert_close_scaled(grads[key], expected[key], 1e-12, f"{key}: {where}")


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "leaky_relu"])
def test_gradients_match_finite_differences(rng, activation):
    """Centred differences (h = 1e-6) agree with the analytic gradient to 1e-6 relative."""
    dims, m, h = [4, 5, 3, 2], 11, 1e-6
    X, Y, parameters = random_problem(rng, dims, m)
    _, grads = kernel.gradients(X, Y, parameters, activation)
    for key, value in parameters.items():
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            shifted = {k: v.copy() for k, v in parameters.items()}
            shifted[key][index] = value[index] + h
            plus, _ = kernel.gradients(X, Y, shifted, activation)
            shifted[key][index] = value[index] - h
            minus, _ = kernel.gradients(X, Y, shifted, activation)
            numeric[index] = (plus - minus) / (2 * h)
        analytic = grads[f"d{key}"]
        error = np.max(np.abs(analytic - numeric)) / max(np.max(np.abs(numeric)), 1e-8)
        assert error < 1e-6, (
            f"d{key} ({activation}, seed {rng.seed_value}): relative error {error:.2e}\n"
            f"analytic {analytic.ravel()}\nnumeric  {numeric.ravel()}"
        )


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_training_matches_reference(rng, activation):
    X, Y, parameters = random_problem(rng, [3, 6, 5, 2], 37)
    options = dict(
        learning_rate=0.05, num_iterations=200, record_every=7, hidden_activation=activation
    )
    trained, costs = kernel.train(X, Y, parameters, **options)
    expected, expected_costs = reference.train(X, Y, parameters, **options)
    where = f"{activation}, seed {rng.seed_value}"
    assert costs.dtype == np.float64 and costs.shape == (29,), where
    np.testing.assert_allclose(costs, expected_costs, rtol=1e-11, err_msg=where)
    for key in expected:
        assert_close_scaled(trained[key], expected[key], 1e-10, f"{key}: {where}")


def test_he_trace_matches_reference_and_published(circles):
    """He on the course problem: the kernel follows numpy to 1e-10 and the published trace to 12 digits."""
    train_X, train_Y, _, _ = circles
    parameters = reference.initialize_parameters([2, 10, 5, 1], "he")
    _, costs = kernel.train(train_X, train_Y, parameters)
    _, expected = reference.train(train_X, train_Y, parameters)
    np.testing.assert_allclose(costs, expected, rtol=1e-10)
    np.testing.assert_allclose(costs, HE_TRACE, rtol=1e-12)


def test_zeros_trace_matches_published(circles):
    train_X, train_Y, _, _ = circles
    parameters = reference.initialize_parameters([2, 10, 5, 1], "zeros")
    _, costs = kernel.train(train_X, train_Y, parameters)
    np.testing.assert_allclose(costs, ZEROS_TRACE, rtol=1e-12)


def test_random_init_saturates_to_inf_and_reaches_course_accuracy(circles):
    """x10 weights: the sigmoid saturates to exactly 0 or 1, so the first cost is inf (nansum)."""
    train_X, train_Y, test_X, test_Y = circles
    parameters = reference.initialize_parameters([2, 10, 5, 1], "random")
    trained, costs = kernel.train(train_X, train_Y, parameters)
    assert costs[0] == np.inf
    assert reference.compute_loss(reference.forward(train_X, parameters), train_Y) == np.inf
    assert np.all(np.isfinite(costs[1:]))
    assert reference.accuracy(kernel.forward(train_X, trained), train_Y) == 0.83
    assert reference.accuracy(kernel.forward(test_X, trained), test_Y) == 0.86


def test_sigmoid_is_accurate_and_saturates_like_numpy():
    """The kernel's own exp: within 2 ulp of numpy's sigmoid over the whole range, exact 0 and 1 at the ends."""
    z = np.concatenate([np.linspace(-800, 800, 40001), [-745.2, -709.9, -36.8, 0.0, 36.8, 709.9]])
    parameters = {"W1": np.ones((1, 1)), "b1": np.zeros((1, 1))}
    AL = kernel.forward(z.reshape(1, -1), parameters)[0]
    with np.errstate(over="ignore"):
        expected = 1 / (1 + np.exp(-z))
    assert AL[0] == 0.0 and AL[-7] == 1.0
    ulps = np.abs(AL - expected) / np.spacing(np.maximum(expected, np.finfo(float).tiny))
    assert np.max(ulps) <= 2, f"max error {np.max(ulps)} ulp at z = {z[np.argmax(ulps)]}"


def test_train_does_not_mutate_parameters(rng):
    X, Y, parameters = random_problem(rng, [2, 4, 1], 10)
    before = {key: value.copy() for key, value in parameters.items()}
    trained, _ = kernel.train(X, Y, parameters, num_iterations=5)
    for key in before:
        np.testing.assert_array_equal(parameters[key], before[key])
        assert trained[key] is not parameters[key]
    assert not np.array_equal(trained["W1"], before["W1"])


def test_returned_arrays_are_separate_contiguous_and_writeable(rng):
    """The trained parameters and the gradients are views of one buffer each: no two
    of them, and none of them and the parameters given, share memory."""
    X, Y, parameters = random_problem(rng, [3, 5, 4, 2], 17)
    trained, _ = kernel.train(X, Y, parameters, num_iterations=3)
    _, grads = kernel.gradients(X, Y, trained)
    arrays = list(trained.values()) + list(grads.values()) + list(parameters.values())
    for i, a in enumerate(arrays):
        for b in arrays[i + 1 :]:
            assert not np.shares_memory(a, b)
    for a in list(trained.values()) + list(grads.values()):
        assert a.flags.c_contiguous and a.flags.writeable and a.dtype == np.float64
    before = trained["b1"].copy()
    trained["W1"][...] = 0.0
    np.testing.assert_array_equal(trained["b1"], before)


def test_zero_iterations_returns_copies_and_no_costs(rng):
    X, Y, parameters = random_problem(rng, [2, 4, 1], 10)
    trained, costs = kernel.train(X, Y, parameters, num_iterations=0)
    assert costs.shape == (0,)
    for key in parameters:
        np.testing.assert_array_equal(trained[key], parameters[key])


def test_integer_labels_give_the_same_result_as_float_labels(circles):
    train_X, train_Y, _, _ = circles
    parameters = reference.initialize_parameters([2, 10, 5, 1], "he")
    assert train_Y.dtype.kind == "i"
    int_cost, int_grads = kernel.gradients(train_X, train_Y, parameters)
    float_cost, float_grads = kernel.gradients(train_X, train_Y.astype(np.float64), parameters)
    assert int_cost == float_cost
    for key in int_grads:
        np.testing.assert_array_equal(int_grads[key], float_grads[key])


def test_training_runs_without_the_gil(circles):
    """Two trainings in threads overlap in time only if the loop releases the GIL."""
    import threading
    import time

    train_X, train_Y, _, _ = circles
    parameters = reference.initialize_parameters([2, 10, 5, 1], "he")
    ticks = []

    def tick():
        deadline = time.perf_counter() + 10
        while not done.is_set() and time.perf_counter() < deadline:
            ticks.append(1)
            time.sleep(0.001)

    done = threading.Event()
    ticker = threading.Thread(target=tick)
    ticker.start()
    kernel.train(train_X, train_Y, parameters, num_iterations=30000)
    done.set()
    ticker.join()
    assert len(ticks) > 5, "the Python thread made no progress while the kernel trained"


def bits_on_threads(monkeypatch, counts, X, Y, parameters, learning_rate, num_iterations,
                    forward=False):
    """For each thread count: the bytes of the costs of a training, then the cost and the
    gradients at the trained parameters (and their forward pass, when forward)."""
    results = []
    for threads in counts:
        monkeypatch.setenv("INITLAB_NUM_THREADS", threads)
        trained, costs = kernel.train(
            X, Y, parameters, learning_rate=learning_rate, num_iterations=num_iterations,
            record_every=1,
        )
        cost, grads = kernel.gradients(X, Y, trained)
        result = (costs.tobytes(), cost, {k: v.tobytes() for k, v in grads.items()})
        if forward:
            result += (kernel.forward(X, trained).tobytes(),)
        results.append(result)
    return results


def test_threads_do_not_change_the_bits(rng, monkeypatch, always_probe):
    """A layer large enough to be split over threads gives the same bits on 1 and 3 threads."""
    X, Y, parameters = random_problem(rng, [64, 130, 33, 3], 203)
    results = bits_on_threads(monkeypatch, ("1", "3"), X, Y, parameters, 0.1, 20)
    assert results[0] == results[1], f"seed {rng.seed_value}"


def test_bad_thread_count_is_named(monkeypatch):
    monkeypatch.setenv("INITLAB_NUM_THREADS", "two")
    X, Y, parameters = random_problem(np.random.default_rng(0), [2, 3, 1], 4)
    with pytest.raises(ValueError, match="INITLAB_NUM_THREADS"):
        kernel.forward(X, parameters)


# The builds this CPU runs: baseline, and AVX2 or AVX-512 where it has them.
CPU_BUILDS = kernel._BUILDS[: kernel._BUILDS.index(kernel._baseline.best_supported()) + 1]


@pytest.mark.skipif(len(CPU_BUILDS) < 2, reason="needs an AVX2 or AVX-512 CPU and build")
def test_every_instruction_set_gives_the_same_bits():
    """Determinism across instruction sets: the same training, bit for bit, in every build."""
    script = (
        "import numpy as np, sys\n"
        "from initlab import kernel, reference, load_circles\n"
        "X, Y, _, _ = load_circles()\n"
        "for init in ('he', 'random'):\n"
        "    p, c = kernel.train(X, Y, reference.initialize_parameters([2, 10, 5, 1], init),\n"
        "                        num_iterations=3000, record_every=100)\n"
        "    sys.stdout.write(c.tobytes().hex() + p['W1'].tobytes().hex() + '\\n')\n"
        # Large products (fused multiply-adds, several blocks of k and every tail).
        "rng = np.random.default_rng(7)\n"
        "dims, m = [450, 50, 400, 2], 401\n"
        "X = rng.normal(size=(dims[0], m)); Y = (rng.random((2, m)) < 0.5) * 1.0\n"
        "p = reference.initialize_parameters(dims, 'he')\n"
        "p, c = kernel.train(X, Y, p, learning_rate=0.05, num_iterations=3, record_every=1)\n"
        "cost, grads = kernel.gradients(X, Y, p)\n"
        "sys.stdout.write(c.tobytes().hex() + np.float64(cost).tobytes().hex()\n"
        "                 + b''.join(v.tobytes() for v in grads.values()).hex() + '\\n')\n"
        "sys.stdout.write(kernel.INSTRUCTION_SET)\n"
    )
    outputs = {}
    for build in CPU_BUILDS:
        env = dict(os.environ, INITLAB_KERNEL=build)
        result = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        *lines, used = result.stdout.split("\n")
        assert used == build
        outputs[build] = lines
    for build in CPU_BUILDS[1:]:
        assert outputs[build] == outputs["baseline"], build


# Hashes forward, gradients and a short training of networks whose layer widths
# 1..9 make dW tiles of every shape up to 4 x 4 and sums of 1 to 8 rows at once,
# every hidden activation, and batches around the 4- and 8-column vectors (the
# last columns of a short product, rows padded to 8 doubles), numpy's 128-term
# pairwise block, and the examples split over threads (m >= 4096). The same
# digest on every build and thread count.
TILES_SCRIPT = """
import hashlib, sys
import numpy as np
from initlab import kernel, reference
rng = np.random.default_rng(20261201)
digest = hashlib.sha256()
problems = [([w, 9 - w + 1, w, 1], m) for w in range(1, 10) for m in (1, 5, 8, 12, 15, 17, 300)]
problems += [([3, 7, 5, 2], 129), ([9, 6, 1, 3], 301), ([2, 5, 9, 1], 4099), ([7, 3, 4, 6], 8197)]
for dims, m in problems:
    X = rng.normal(size=(dims[0], m))
    Y = (rng.random((dims[-1], m)) < 0.5).astype(np.float64)
    p = {}
    for l in range(1, len(dims)):
        p[f"W{l}"] = rng.normal(size=(dims[l], dims[l - 1])) / np.sqrt(dims[l - 1])
        p[f"b{l}"] = rng.normal(size=(dims[l], 1)) * 0.1
    for activation in reference.ACTIVATIONS:
        digest.update(kernel.forward(X, p, activation).tobytes())
        cost, grads = kernel.gradients(X, Y, p, activation)
        digest.update(np.float64(cost).tobytes())
        for key in grads:
            digest.update(grads[key].tobytes())
    trained, costs = kernel.train(X, Y, p, learning_rate=0.1, num_iterations=3, record_every=1)
    digest.update(costs.tobytes() + trained["W1"].tobytes())
sys.stdout.write(digest.hexdigest() + " " + kernel.INSTRUCTION_SET)
"""


@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_every_tile_shape_gives_the_same_bits_in_every_build(threads):
    """The 8-lane paths of the AVX-512 build (dW in tiles up to 4 x 4, sums of up to
    8 rows, padded last columns, padded rows) give the bits of the 4-lane builds, on
    1, 2 and 3 threads; and the bits do not depend on the thread count."""
    digests = {}
    for build in CPU_BUILDS:
        env = dict(os.environ, INITLAB_KERNEL=build, INITLAB_NUM_THREADS=threads)
        result = subprocess.run(
            [sys.executable, "-c", TILES_SCRIPT], env=env, capture_output=True, text=True,
            check=True,
        )
        digest, used = result.stdout.split()
        assert used == build
        digests[build] = digest
    assert len(set(digests.values())) == 1, digests
    # Against one thread: the same digest (the parametrized runs share it).
    if threads != "1":
        env = dict(os.environ, INITLAB_NUM_THREADS="1")
        one = subprocess.run(
            [sys.executable, "-c", TILES_SCRIPT], env=env, capture_output=True, text=True,
            check=True,
        ).stdout.split()[0]
        assert set(digests.values()) == {one}


@pytest.mark.parametrize("scale, iteration", [(1e100, 1), (1e155, 0)])
def test_diverging_training_stops_and_names_the_iteration(circles, scale, iteration):
    """Huge parameters overflow to inf and nan; the error names the first iteration
    whose update left a parameter non-finite, which the numpy reference confirms."""
    train_X, train_Y, _, _ = circles
    parameters = {
        key: value * scale
        for key, value in reference.initialize_parameters([2, 10, 5, 1], "he").items()
    }
    with pytest.raises(kernel.TrainingDiverged, match=rf"after the update of iteration {iteration} "):
        kernel.train(train_X, train_Y, parameters, num_iterations=50, record_every=1)

    def finite_after(iterations):
        trained, _ = reference.train(
            train_X, train_Y, parameters, num_iterations=iterations, record_every=1
        )
        return all(np.isfinite(value).all() for value in trained.values())

    assert not finite_after(iteration + 1)
    assert iteration == 0 or finite_after(iteration)


def test_diverged_training_is_a_value_error(circles):
    """Callers that report bad input (the graders catch ValueError) report this too."""
    train_X, train_Y, _, _ = circles
    parameters = {
        key: value * 1e155
        for key, value in reference.initialize_parameters([2, 10, 5, 1], "he").items()
    }
    with pytest.raises(ValueError, match="not finite"):
        kernel.train(train_X, train_Y, parameters, num_iterations=3)


def test_finite_training_keeps_the_course_cost_semantics(circles):
    """Saturated (x10) weights: an inf cost with finite parameters is the course's
    answer, not a divergence; training goes on."""
    train_X, train_Y, _, _ = circles
    parameters = reference.initialize_parameters([2, 10, 5, 1], "random")
    _, costs = kernel.train(train_X, train_Y, parameters, num_iterations=2000)
    assert costs[0] == np.inf and np.isfinite(costs[1])


def _overcommit_mode():
    try:
        with open("/proc/sys/vm/overcommit_memory") as file:
            return file.read().strip()
    except OSError:
        return None


@pytest.mark.skipif(
    _overcommit_mode() not in ("0", "2"),
    reason="needs Linux without always-overcommit, where a 16 TiB allocation fails",
)
@pytest.mark.parametrize("entry", ["forward", "gradients", "train"])
def test_allocation_that_fails_names_the_layer_and_the_bytes(entry):
    n1, m = 2**20, 2**21
    X = np.ones((1, m))
    Y = np.zeros((1, m))
    parameters = {"W1": np.ones((n1, 1)), "b1": np.zeros((n1, 1)), "W2": np.ones((1, n1)), "b2": np.zeros((1, 1))}
    call = {
        "forward": lambda: kernel.forward(X, parameters),
        "gradients": lambda: kernel.gradients(X, Y, parameters),
        "train": lambda: kernel.train(X, Y, parameters, num_iterations=1),
    }[entry]
    with pytest.raises(MemoryError) as error:
        call()
    message = str(error.value)
    assert "\n" not in message
    assert f"{8 * n1 * m:,} bytes" in message and "layer 1's activations A1" in message, message


def fma(a: float, b: float, c: float) -> float:
    """a b + c exact, rounded once (float(Fraction) rounds to nearest, as IEEE 754 fma)."""
    return float(Fraction(a) * Fraction(b) + Fraction(c))


def test_a_large_product_is_a_chain_of_fused_multiply_adds(rng):
    """What the module's docstring promises, computed exactly in Python: dW of a layer
    of 2^20 multiply-adds or more is, for each element, s = dZ[i, 0] X[k, 0] rounded,
    then s = fma(dZ[i, j], X[k, j], s) for j = 1, ..., m - 1; a smaller layer's, or
    a layer of 10 units or fewer over many examples, rounds each product and each
    addition (numpy's pairwise order)."""
    # ([12, 8], 12000): 2^20 multiply-adds and more, but a layer of 8 units: pairwise.
    for dims, m, fused in (([64, 40], 410, True), ([6, 4], 300, False), ([12, 8], 12000, False)):
        X, Y, parameters = random_problem(rng, dims, m)
        _, grads = kernel.gradients(X, Y, parameters)
        # dZ = (1/m)(AL - Y), the same operations as the kernel's, on its AL
        dZ = 1.0 / m * (kernel.forward(X, parameters) - Y)
        differs = []
        for i, k in zip(rng.integers(0, dims[1], 8), rng.integers(0, dims[0], 8), strict=True):
            a, b = dZ[i].tolist(), X[k].tolist()
            chained = a[0] * b[0]
            for j in range(1, m if fused else 0):
                chained = fma(a[j], b[j], chained)
            pairwise = float(np.sum(dZ[i] * X[k]))  # numpy's pairwise order
            assert grads["dW1"][i, k] == (chained if fused else pairwise), (
                f"dW1[{i}, {k}] of {dims}, m = {m}, seed {rng.seed_value}"
            )
            differs.append(chained != pairwise)
        # the data tells the two roundings apart (here, about half of the elements)
        assert any(differs) or not fused, f"seed {rng.seed_value}"


def test_large_products_give_the_same_bits_on_any_thread_count(rng, monkeypatch):
    dims, m = LARGE
    X, Y, parameters = random_problem(rng, dims, m)
    results = bits_on_threads(monkeypatch, ("1", "2", "3"), X, Y, parameters, 0.05, 3)
    assert results[0] == results[1] == results[2], f"seed {rng.seed_value}"


@pytest.fixture
def gemm_settings():
    """Sets the chunk of B and the panels below which B is read in place, on every
    loaded build; puts the old ones back after."""
    old = [k._set_gemm(*k._set_gemm(1, 0)) for k in _loaded_builds()]

    def set_all(block, panels):
        for k in _loaded_builds():
            k._set_gemm(block, panels)

    yield set_all
    for k, (block, panels) in zip(_loaded_builds(), old, strict=True):
        k._set_gemm(block, panels)


def test_chunks_of_b_and_panels_packed_once_do_not_change_the_bits(
        rng, monkeypatch, gemm_settings):
    """The large products by chunks of B of any size (one strip, a few, the default),
    with B packed or read in place: the same bits on 1 and 2 threads. [2, 800, 700, 1]
    at m = 100: dW2 (700 x 800 over 100 terms) has panels of W that fit in the packing
    buffers, packed once for all the chunks; Z2 (700 x 100 over 800 terms, two blocks
    of k) has, on one thread, more than fit, packed again for each chunk."""
    X, Y, parameters = random_problem(rng, [2, 800, 700, 1], 100)
    results = []
    for block, panels in ((1 << 17, 24), (1, 24), (3000, 0), (5000, 1000)):
        gemm_settings(block, panels)
        results += bits_on_threads(monkeypatch, ("1", "2"), X, Y, parameters, 0.05, 2,
                                   forward=True)
    assert all(r == results[0] for r in results), (
        [i for i, r in enumerate(results) if r != results[0]], f"seed {rng.seed_value}")


@pytest.mark.parametrize("m", [300, 301])
def test_passes_split_in_bands_of_rows_give_the_same_bits_on_any_thread_count(
        rng, monkeypatch, m):
    """A network with large products and one-tile passes beside them, as
    [2, 1000, 1000, 1] has: Z1 (a short product of 240 x m), Z3 and dW3 (one row over
    260 terms), dA2 (260 x m, gated), db2 and dW1 (240 x 3 over m examples) go over
    threads in bands of rows or columns, with the bits of one thread; dW2's step is
    taken from its tiles (FINISH_DESCEND)."""
    X, Y, parameters = random_problem(rng, [3, 240, 260, 1], m)
    results = bits_on_threads(monkeypatch, ("1", "2", "3"), X, Y, parameters, 0.05, 4,
                              forward=True)
    assert results[0] == results[1] == results[2], f"seed {rng.seed_value}"


def test_thread_count_follows_the_work():
    """The course problem is too little work to share; a wide layer is shared."""
    assert kernel._threads_for([2, 10, 5, 1], 300) == 1
    assert kernel._threads_for([2, 1000, 1000, 1], 300) == kernel.num_threads()


@pytest.fixture
def always_probe():
    """train tries all its threads however short the training (see PROBE_SECONDS), so
    that a short test training runs on one thread and on all of them."""
    old = [k._set_probe_seconds(0.0) for k in _loaded_builds()]
    yield
    for k, seconds in zip(_loaded_builds(), old, strict=True):
        k._set_probe_seconds(*seconds)


def _loaded_builds():
    return [kernel._kernel] + ([kernel._baseline] if kernel._baseline is not kernel._kernel else [])


def test_examples_split_over_threads_give_the_same_bits(rng, monkeypatch, always_probe):
    """Many examples and small layers: the work over examples is shared by the
    threads; forward, gradients and training give the same bits on 1, 2 and 3 threads.
    (A training on several threads also switches between one thread and all of them,
    whichever is faster, from its second block on.) m = 20011 and 4103 are not
    multiples of 8: rows padded to 8 doubles."""
    for dims, m in (([2, 10, 5, 1], 30000), ([3, 7, 5, 2], 20011), ([9, 5, 6, 3], 4103)):
        X, Y, parameters = random_problem(rng, dims, m)
        results = bits_on_threads(
            monkeypatch, ("1", "2", "3"), X, Y, parameters, 0.1, 30, forward=True
        )
        assert results[0] == results[1] == results[2], f"dims {dims}, seed {rng.seed_value}"


@pytest.fixture
def always_all():
    """train runs every block on all its threads, never comparing one thread."""
    old = [k._set_always_all(True) for k in _loaded_builds()]
    yield
    for k, always in zip(_loaded_builds(), old, strict=True):
        k._set_always_all(always)


def test_train_splits_a_small_network_by_whole_subtrees_of_its_sums():
    """A network without a large product trains on its threads by its examples: parts
    that are subtrees of numpy's pairwise order (300 = 144 + 156, and 72 + 72 + 72 +
    84 on 4 threads), a power of two of them; a network with a large product, or too
    few examples to split, is not split."""
    split = kernel._kernel._split_parts
    course = np.array([2, 10, 5, 1], dtype=np.intp)
    assert split(np.zeros((2, 300)), course, 2) == (2, [0, 144, 300])
    assert split(np.zeros((2, 300)), course, 3) == (2, [0, 144, 300])
    assert split(np.zeros((2, 300)), course, 8) == (4, [0, 72, 144, 216, 300])
    assert split(np.zeros((2, 300)), course, 1) == (0, [])
    assert split(np.zeros((2, 128)), course, 2) == (0, [])
    wide = np.array([2, 1000, 1000, 1], dtype=np.intp)
    assert split(np.zeros((2, 300)), wide, 2) == (0, [])
    assert kernel._train_threads([2, 10, 5, 1], 300) == kernel.num_threads()
    assert kernel._train_threads([2, 10, 5, 1], 100) == 1


SPLIT_CASES = [
    ([2, 10, 5, 1], 300, "relu"),
    ([2, 10, 5, 1], 300, "sigmoid"),
    ([3, 7, 5, 2], 261, "tanh"),  # two outputs: the loss sums 2 x 261 terms row after row
    ([12, 33, 17, 1], 300, "leaky_relu"),  # sums of 12 and 33 terms: not short products
    ([4, 6, 3], 129, "relu"),  # 64 + 65
    ([2, 10, 5, 1], 20011, "relu"),
]


@pytest.mark.parametrize("dims, m, activation", SPLIT_CASES, ids=str)
def test_a_training_split_by_examples_gives_the_bits_of_one_thread(
    rng, monkeypatch, always_all, dims, m, activation
):
    """Every block on all threads (2, 3 and 4: 2 and 4 parts): every recorded cost and
    the trained parameters have the bits of one thread's training."""
    X, Y, parameters = random_problem(rng, dims, m)
    results = []
    for threads in ("1", "2", "3", "4"):
        monkeypatch.setenv("INITLAB_NUM_THREADS", threads)
        trained, costs = kernel.train(
            X, Y, parameters, learning_rate=0.1, num_iterations=25, record_every=1,
            hidden_activation=activation,
        )
        results.append((costs.tobytes(), {k: v.tobytes() for k, v in trained.items()}))
    assert results[0] == results[1] == results[2] == results[3], f"seed {rng.seed_value}"
    reference_trained, reference_costs = reference.train(
        X, Y, parameters, learning_rate=0.1, num_iterations=25, record_every=1,
        hidden_activation=activation,
    )
    np.testing.assert_allclose(costs, reference_costs, rtol=1e-12)


@pytest.mark.parametrize("m, first", [(30000, 3), (300, 16)])
def test_a_probe_of_the_threads_does_not_time_their_waking(monkeypatch, always_probe, m, first):
    """train's first block is on one thread, 16 iterations or fewer for a large
    batch (3 at m = 30000); every probe on the threads after a block on one thread
    starts with one iteration that is not timed (it wakes the threads), then the
    timed probe; every iteration is in some block."""
    X, Y, parameters = random_problem(np.random.default_rng(2), [2, 10, 5, 1], m)
    monkeypatch.setenv("INITLAB_NUM_THREADS", "2")
    kernel.train(X, Y, parameters, num_iterations=60)
    blocks = kernel._kernel._last_blocks()
    assert blocks[0] == (1, first, True), blocks
    assert sum(iterations for _, iterations, _ in blocks) == 60, blocks
    wakes = [i for i in range(1, len(blocks)) if blocks[i][0] == 2 and blocks[i - 1][0] == 1]
    assert wakes, blocks
    for i in wakes:
        assert blocks[i] == (2, 1, False), (i, blocks)
        assert i + 1 == len(blocks) or blocks[i + 1][0] == 2 and blocks[i + 1][2], (i, blocks)
    assert [b for b in blocks if not b[2]] == [blocks[i] for i in wakes], blocks


def test_a_split_training_that_diverges_stops_where_one_thread_stops(monkeypatch, always_all):
    """Each thread takes the step on its own copy of the parameters; a step that leaves
    one inf or nan stops all of them at that iteration, as on one thread. (With these
    data the fourth update overflows; with most, relu units die first and nothing
    does.)"""
    X, Y, parameters = random_problem(np.random.default_rng(1), [2, 10, 5, 1], 300)
    stops = []
    for threads in ("1", "2", "4"):
        monkeypatch.setenv("INITLAB_NUM_THREADS", threads)
        with pytest.raises(kernel.TrainingDiverged) as raised:
            kernel.train(X, Y, parameters, learning_rate=1e40, num_iterations=20, record_every=1)
        stops.append(str(raised.value))
    assert "after the update of iteration 3 " in stops[0], stops[0]
    assert stops[0] == stops[1] == stops[2], stops


def test_a_split_training_on_fewer_threads_than_parts_does_them_all():
    """OpenMP giving fewer threads than asked (here OMP_THREAD_LIMIT=1): the thread it
    gives does every part, with the same bits."""
    script = (
        "import numpy as np\n"
        "from initlab import kernel\n"
        "rng = np.random.default_rng(5)\n"
        "X = rng.normal(size=(2, 300)); Y = (rng.random((1, 300)) < 0.5) * 1.0\n"
        "p = {'W1': rng.normal(size=(10, 2)), 'b1': np.zeros((10, 1)),\n"
        "     'W2': rng.normal(size=(5, 10)) / 3, 'b2': np.zeros((5, 1)),\n"
        "     'W3': rng.normal(size=(1, 5)) / 2, 'b3': np.zeros((1, 1))}\n"
        "kernel._kernel._set_always_all(True)\n"
        "t, c = kernel.train(X, Y, p, num_iterations=50, record_every=7)\n"
        "print(c.tobytes().hex(), t['W1'].tobytes().hex())\n"
    )
    outputs = []
    for threads, limit in (("1", None), ("2", "1"), ("4", "2")):
        env = {k: v for k, v in os.environ.items() if k != "OMP_THREAD_LIMIT"}
        env["INITLAB_NUM_THREADS"] = threads
        if limit:
            env["OMP_THREAD_LIMIT"] = limit
        result = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1] == outputs[2]


@pytest.mark.parametrize("given", [None, "300000"])
def test_the_spin_count_is_set_for_the_kernel_only(given):
    """Loading the kernel sets libgomp's spin count while it loads (see
    kernel.SPIN_COUNT), then takes the variable away again; a count the user set
    is left as it is."""
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    if given:
        env["GOMP_SPINCOUNT"] = given
    script = "import os\nfrom initlab import kernel\nprint(os.environ.get('GOMP_SPINCOUNT'))\n"
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == str(given)


def test_a_large_network_that_diverges_stops_at_the_same_iteration_on_any_threads(
    rng, monkeypatch
):
    """The update of a network of 2^16 parameters and more is split over threads (this
    one, of 16M multiply-adds an iteration, trains on all of them); a non-finite
    parameter in any chunk stops the training at the iteration that made it, the same
    on 1, 2 and 3 threads, and the reference confirms the iteration."""
    dims, m = [2, 600, 600, 1], 64
    X, Y, parameters = random_problem(rng, dims, m)
    parameters["W3"] = parameters["W3"] * 1e155  # the output layer overflows first
    iterations = []
    for threads in ("1", "2", "3"):
        monkeypatch.setenv("INITLAB_NUM_THREADS", threads)
        with pytest.raises(kernel.TrainingDiverged) as raised:
            kernel.train(X, Y, parameters, learning_rate=1.0, num_iterations=20, record_every=1)
        text = str(raised.value)
        iterations.append(int(text.split("after the update of iteration ")[1].split()[0]))
    assert iterations[0] == iterations[1] == iterations[2], iterations
    trained, _ = reference.train(
        X, Y, parameters, learning_rate=1.0, num_iterations=iterations[0] + 1, record_every=1
    )
    assert not all(np.isfinite(value).all() for value in trained.values()), f"seed {rng.seed_value}"


@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize(
    "dims, m, activation",
    [
        ([2, 10, 5, 1], 300, "relu"),
        ([5, 4, 4, 3], 13, "tanh"),
        ([12, 33, 17, 1], 129, "sigmoid"),
        ([2, 10, 5, 1], 30000, "leaky_relu"),
        (LARGE[0], LARGE[1], "relu"),
        (LARGE[0], LARGE[1], "leaky_relu"),
    ],
    ids=str,
)
def test_no_work_buffer_is_read_before_it_is_written(
    rng, monkeypatch, always_probe, dims, m, activation, threads
):
    """Every buffer taken from the pool of freed ones (or from malloc) is filled with nan
    bits: forward, gradients and train give the bits of a run without the pool, twice
    (the second time from the blocks the first gave back)."""
    monkeypatch.setenv("INITLAB_NUM_THREADS", threads)
    X, Y, parameters = random_problem(rng, dims, m)

    def run():
        trained, costs = kernel.train(
            X, Y, parameters, learning_rate=0.05, num_iterations=4, record_every=1,
            hidden_activation=activation,
        )
        cost, grads = kernel.gradients(X, Y, trained, hidden_activation=activation)
        AL = kernel.forward(X, trained, hidden_activation=activation)
        return (
            costs.tobytes(), cost, AL.tobytes(),
            {k: v.tobytes() for k, v in (trained | grads).items()},
        )

    old = [k._set_pool(0, False) for k in _loaded_builds()]
    try:
        fresh = run()
    finally:
        for k, (max_bytes, poison) in zip(_loaded_builds(), old, strict=True):
            k._set_pool(max_bytes, poison)
    old = [k._set_pool(64 << 20, True) for k in _loaded_builds()]
    try:
        assert run() == fresh, f"first run, seed {rng.seed_value}"
        assert run() == fresh, f"second run, from the pool, seed {rng.seed_value}"
    finally:
        for k, (max_bytes, poison) in zip(_loaded_builds(), old, strict=True):
            k._set_pool(max_bytes, poison)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_each_step_is_the_gradient_step_to_the_bit(rng, activation):
    """train's step of a W whose dW is a large product is taken as dW's tiles are
    done, after the gradient below it is computed from the W before the step: each
    iteration is, to the bit, W - lr dW and b - lr db from kernel.gradients at the
    parameters before it."""
    dims, m = LARGE
    X, Y, parameters = random_problem(rng, dims, m)
    learning_rate = 0.05
    expected = dict(parameters)
    for iteration in range(3):
        _, grads = kernel.gradients(X, Y, expected, hidden_activation=activation)
        expected = {key: value - learning_rate * grads[f"d{key}"] for key, value in expected.items()}
        trained, _ = kernel.train(
            X, Y, parameters, learning_rate=learning_rate, num_iterations=iteration + 1,
            hidden_activation=activation,
        )
        for key in expected:
            assert trained[key].tobytes() == expected[key].tobytes(), (
                f"{key} after {iteration + 1} iterations, seed {rng.seed_value}"
            )
