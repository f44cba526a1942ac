"""The compiled kernel's ``train`` against the numpy reference, measured in the same run.

For each problem both implementations train from the same parameters; the
timings alternate (reference, kernel, reference, ...) and the best of
``--repeat`` rounds of each is kept, so a busy spell of a shared machine hits
both alike and is filtered out. The printed ratio is reference time / kernel
time. Both use the same threads: numpy's BLAS its own, the kernel
``INITLAB_NUM_THREADS`` (default: every CPU this process may use). Each timed
run follows a short pause, so neither side runs beside the other's
still-spinning worker threads, and one untimed warm-up call.

    python benchmarks/bench_kernel.py [--repeat 5] [--quick]
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np

import initlab
from initlab import kernel, reference
from initlab.datasets import make_circles

IDLE_PAUSE = 0.5  # seconds

# (name, layers_dims, m, iterations)
PROBLEMS = [
    ("course [2,10,5,1] m=300", [2, 10, 5, 1], 300, 15000),
    ("wide [2,64,64,1] m=3000", [2, 64, 64, 1], 3000, 100),
    ("mnist-sized [784,128,64,10] m=1000", [784, 128, 64, 10], 1000, 10),
]


def problem_data(dims: list[int], m: int) -> tuple[np.ndarray, np.ndarray, dict]:
    if dims == [2, 10, 5, 1] and m == 300:
        X, Y, _, _ = initlab.load_circles()
    elif dims[0] == 2:
        X, y = make_circles(m, noise=0.05, random_state=np.random.RandomState(0))
        X, Y = X.T.copy(), y.reshape(1, -1)
    else:
        rng = np.random.RandomState(0)
        X = rng.rand(dims[0], m)
        Y = np.eye(dims[-1], dtype=np.int64)[:, rng.randint(dims[-1], size=m)]
    return X, Y, reference.initialize_parameters(dims, "he")


def seconds(fn) -> float:
    """Wall time of fn() in steady state.

    First a pause, in which the other side's idle threads go to sleep (OpenBLAS and
    OpenMP workers spin for a while after their last task and would take a core
    from the run being timed); then one untimed call, so the timed one starts with
    the CPU at speed and the caches warm.
    """
    time.sleep(IDLE_PAUSE)
    fn()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (best of each kept)")
    parser.add_argument("--quick", action="store_true", help="the course problem only")
    args = parser.parse_args()

    print(
        f"initlab {initlab.__version__}, kernel build {kernel.INSTRUCTION_SET}, "
        f"{kernel.num_threads()} kernel threads, numpy {np.__version__}, "
        f"best of {args.repeat} interleaved rounds"
    )
    print(f"{'problem':<38}{'iters':>7}{'numpy s':>10}{'kernel s':>10}{'us/iter':>10}{'ratio':>8}")
    for name, dims, m, iterations in PROBLEMS[:1] if args.quick else PROBLEMS:
        X, Y, parameters = problem_data(dims, m)
        options = dict(num_iterations=iterations, record_every=max(1, iterations // 15))
        ref_times, kernel_times = [], []
        run_reference = partial(reference.train, X, Y, parameters, **options)
        run_kernel = partial(kernel.train, X, Y, parameters, **options)
        for _ in range(args.repeat):
            ref_times.append(seconds(run_reference))
            kernel_times.append(seconds(run_kernel))
        ref, ker = min(ref_times), min(kernel_times)
        print(
            f"{name:<38}{iterations:>7}{ref:>10.3f}{ker:>10.3f}"
            f"{ker / iterations * 1e6:>10.1f}{ref / ker:>8.1f}x"
        )


if __name__ == "__main__":
    main()
