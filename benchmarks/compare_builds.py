"""Two builds of the kernel side by side: the time per training iteration of each
on the issue's problems, in alternating rounds of one run (the machine is shared).

Each build is a source tree with its compiled modules in place (for an older
commit: ``git worktree add /tmp/old COMMIT && cd /tmp/old && python setup.py
build_ext --inplace``); every measurement runs in a fresh process that imports
initlab from the tree it is given.

    python benchmarks/compare_builds.py OLD/src NEW/src [--rounds 3] [--problems 1,2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

PROBLEMS = [
    ([2, 10, 5, 1], 300, 3000),
    ([2, 100, 100, 1], 300, 300),
    ([2, 316, 316, 1], 300, 30),
    ([2, 1000, 1000, 1], 300, 4),
    ([784, 128, 64, 10], 1000, 15),
    # long enough that train tries its threads (it does only while 0.1 s of one-thread
    # training is left): at 80 iterations a build whose first iterations were slower
    # went on to two threads, and one whose were not stayed on one
    ([2, 10, 5, 1], 30000, 300),
]

MEASURE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
from initlab import kernel
if not kernel.__file__.startswith(sys.argv[1]):
    sys.exit(f"imported {kernel.__file__}, not the build in {sys.argv[1]}")
dims, m, iterations = json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.RandomState(0)
X = rng.randn(dims[0], m)
labels = rng.randint(0, max(dims[-1], 2), m)
Y = np.eye(dims[-1])[:, labels] if dims[-1] > 1 else labels[None, :] * 1.0
parameters = {}
for l in range(1, len(dims)):
    parameters[f"W{l}"] = rng.randn(dims[l], dims[l - 1]) * np.sqrt(2 / dims[l - 1])
    parameters[f"b{l}"] = np.zeros((dims[l], 1))
kernel.train(X, Y, parameters, num_iterations=max(1, iterations // 4))  # warm up, untimed
best = float("inf")
for _ in range(3):
    start = time.perf_counter()
    kernel.train(X, Y, parameters, num_iterations=iterations)
    best = min(best, (time.perf_counter() - start) / iterations)
print(best * 1e6)
"""


def measure(tree: Path, dims: list[int], m: int, iterations: int) -> float:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(tree), json.dumps(dims), str(m), str(iterations)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"{tree}: {done.stderr.strip()[-500:]}")
    return float(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="the first build's src folder")
    parser.add_argument("new", type=Path, help="the second build's src folder")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--problems", help="comma-separated problem numbers, from 0")
    args = parser.parse_args()
    chosen = [int(i) for i in args.problems.split(",")] if args.problems else None
    old, new = args.old.resolve(), args.new.resolve()
    print(f"microseconds per iteration, best of {args.rounds} alternating rounds")
    for index, (dims, m, iterations) in enumerate(PROBLEMS):
        if chosen is not None and index not in chosen:
            continue
        times: dict[Path, list[float]] = {old: [], new: []}
        for _ in range(args.rounds):
            for tree in (old, new):
                times[tree].append(measure(tree, dims, m, iterations))
        a, b = min(times[old]), min(times[new])
        print(f"  {str(dims):<20} m={m:<6} old {a:10.1f}  new {b:10.1f}  old/new {a / b:5.2f}")


if __name__ == "__main__":
    main()
