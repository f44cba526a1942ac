"""The compiled kernel's ``train`` against the numpy reference, measured in the same run.

For each problem both implementations train from the same parameters. Every
measurement runs in a fresh Python process that builds the problem, calls
``train`` untimed for a second and then times one call: on a small machine the worker
threads one library leaves spinning (OpenBLAS's, OpenMP's) would otherwise take
a core from the other. The rounds alternate (reference, kernel, reference, ...)
and the best of ``--repeat`` rounds of each is kept, so a busy spell of a
shared machine hits both alike and is filtered out. The printed ratio is
reference time / kernel time.

Each side keeps its own threads: numpy its BLAS's, the kernel
``INITLAB_NUM_THREADS`` (default: every CPU the process may use).

    python benchmarks/bench_kernel.py [--repeat 5] [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np

import initlab
from initlab import kernel, reference
from initlab.datasets import make_circles

# (name, layers_dims, m, iterations)
PROBLEMS = [
    ("course [2,10,5,1] m=300", [2, 10, 5, 1], 300, 15000),
    ("wide [2,64,64,1] m=3000", [2, 64, 64, 1], 3000, 100),
    ("mnist-sized [784,128,64,10] m=1000", [784, 128, 64, 10], 1000, 10),
]
IMPLEMENTATIONS = {"numpy": reference, "kernel": kernel}
WARM_UP = 1.0  # seconds of untimed calls before the timed one


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


def time_one(implementation: str, problem: int) -> float:
    """Seconds of one call of ``train`` in steady state (run in a child process).

    Calls repeat untimed for WARM_UP seconds first, so caches, the allocator and
    the library's thread pool (OpenBLAS wakes its workers more slowly from a cold
    start) are as they are in a long training run.
    """
    _, dims, m, iterations = PROBLEMS[problem]
    X, Y, parameters = problem_data(dims, m)
    options = dict(num_iterations=iterations, record_every=max(1, iterations // 15))
    train = IMPLEMENTATIONS[implementation].train
    warm_until = time.perf_counter() + WARM_UP
    while time.perf_counter() < warm_until:
        train(X, Y, parameters, **options)
    start = time.perf_counter()
    train(X, Y, parameters, **options)
    return time.perf_counter() - start


def measure(implementation: str, problem: int) -> float:
    result = subprocess.run(
        [sys.executable, __file__, "--child", implementation, str(problem)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (best of each kept)")
    parser.add_argument("--quick", action="store_true", help="the course problem only")
    parser.add_argument("--child", nargs=2, metavar=("IMPL", "PROBLEM"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(time_one(args.child[0], int(args.child[1])))
        return

    print(
        f"initlab {initlab.__version__}, kernel build {kernel.INSTRUCTION_SET}, "
        f"{kernel.num_threads()} kernel threads, numpy {np.__version__}, "
        f"best of {args.repeat} interleaved rounds, one process per measurement"
    )
    print(f"{'problem':<38}{'iters':>7}{'numpy s':>10}{'kernel s':>10}{'us/iter':>10}{'ratio':>8}")
    for index, (name, _, _, iterations) in enumerate(PROBLEMS[:1] if args.quick else PROBLEMS):
        times = {implementation: [] for implementation in IMPLEMENTATIONS}
        for _ in range(args.repeat):
            for implementation in IMPLEMENTATIONS:
                times[implementation].append(measure(implementation, index))
        ref, ker = min(times["numpy"]), min(times["kernel"])
        print(
            f"{name:<38}{iterations:>7}{ref:>10.3f}{ker:>10.3f}"
            f"{ker / iterations * 1e6:>10.1f}{ref / ker:>8.1f}x"
        )


if __name__ == "__main__":
    main()
