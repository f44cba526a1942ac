"""The compiled kernel's ``train`` against numpy, PyTorch and JAX, measured in the same run.

Every implementation trains the same network from the same parameters, in
float64, with the same full-batch gradient descent (relu hidden layers, a
sigmoid output, the course's loss):

- ``numpy``: ``initlab.reference.train``, the baseline every ratio is against;
- ``kernel``: ``initlab.kernel.train``;
- ``kernel1``: the same on one thread (``INITLAB_NUM_THREADS=1``): its ``x`` is
  what the kernel's other threads gain;
- ``torch``: PyTorch eager, the backward pass written out (no autograd tape);
- ``compile``: the same step under ``torch.compile``, the loop in Python;
- ``jax``: the whole loop (``lax.scan`` of ``lax.fori_loop``) under one ``jax.jit``.

PyTorch and JAX are optional (``pip install -e ".[bench]"``, see the README);
a peer that is not installed is left out and said so. Every peer's cost trace
is checked against the kernel's: a trace that differs by more than
``TRACE_RTOL`` stops the run, since its time would be for other work.

Each implementation lives in its own worker process, started once (so
``torch.compile`` and ``jax.jit`` compile once per problem, untimed). A
measurement calls ``train`` untimed for ``WARM_UP`` seconds, which wakes the
library's thread pool and fills the caches, then times one call. The rounds
alternate (numpy, kernel, torch, ... and again), with a pause between
measurements so that one library's spinning worker threads have gone to sleep
before the next starts, and the best of ``--repeat`` rounds of each is kept:
a busy spell of a shared machine hits every implementation alike and is
filtered out. The spread column is the worst round over the best, for the
kernel: how noisy the machine was.

Threads: the kernel uses its own policy (``INITLAB_NUM_THREADS``, default
every CPU the process may use); PyTorch is given the same count; numpy keeps
its BLAS's, JAX its own. The peaks are measured here, by the kernel's build, on 1
and on all threads: independent vector fused multiply-adds (what the large
products do) and independent multiplies then adds (what the other sums do).
GFLOP/s counts the multiply-adds of the matrix products (2 n_l n_(l-1) m per
product, three products per layer but the first's dA); "of peak" is that over
the fused peak on the kernel's threads.

    python benchmarks/bench_kernel.py [--repeat 5] [--quick] [--only numpy,kernel]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

import initlab
from initlab import kernel, reference
from initlab.datasets import make_circles

# (name, layers_dims, m, iterations); iterations is a multiple of RECORDS.
PROBLEMS = [
    ("course [2,10,5,1] m=300", [2, 10, 5, 1], 300, 3000),
    ("w100 [2,100,100,1] m=300", [2, 100, 100, 1], 300, 300),
    ("w316 [2,316,316,1] m=300", [2, 316, 316, 1], 300, 40),
    ("w1000 [2,1000,1000,1] m=300", [2, 1000, 1000, 1], 300, 5),
    ("mnist [784,128,64,10] m=1000", [784, 128, 64, 10], 1000, 20),
    ("long [2,10,5,1] m=30000", [2, 10, 5, 1], 30000, 100),
]
RECORDS = 5  # costs recorded per run: iterations 0, n/5, 2n/5, ...
LEARNING_RATE = 0.01
IMPLEMENTATIONS = ["numpy", "kernel", "kernel1", "torch", "compile", "jax"]
OURS = ("kernel", "kernel1")  # not peers
WARM_UP = 0.5  # seconds of untimed calls before the timed one
PAUSE = 0.3  # seconds between measurements: idle thread pools go to sleep
TRACE_RTOL = 1e-9  # max relative difference of a peer's costs from the kernel's


def flops_per_iteration(dims: list[int], m: int) -> int:
    """Multiplies and adds of the matrix products of one iteration: W A, dZ A^T, W^T dZ."""
    products = [dims[l] * dims[l - 1] for l in range(1, len(dims))]
    return 2 * m * (2 * sum(products) + sum(products[1:]))


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
    return X, Y.astype(np.float64), reference.initialize_parameters(dims, "he")


# ---------------------------------------------------------------------------
# The implementations, each: make(dims, X, Y, parameters, iterations, every)
# returns a function of no arguments that trains and returns the cost trace.


def make_initlab(module):
    def make(dims, X, Y, parameters, iterations, every):
        def run():
            _, costs = module.train(
                X, Y, parameters, learning_rate=LEARNING_RATE, num_iterations=iterations,
                record_every=every,
            )
            return np.asarray(costs)

        return run

    return make


def make_torch(compiled: bool):
    import torch

    torch.set_num_threads(kernel.num_threads())

    def step(X, Y, Ws, bs, with_cost: bool):
        """One iteration: (new Ws, new bs, cost or None), the backward pass written out."""
        m = X.shape[1]
        activations = [X]
        A = X
        for l in range(len(Ws) - 1):
            A = torch.relu(Ws[l] @ A + bs[l])
            activations.append(A)
        AL = torch.sigmoid(Ws[-1] @ A + bs[-1])
        cost = None
        if with_cost:
            logprobs = -torch.log(AL) * Y + -torch.log(1 - AL) * (1 - Y)
            cost = torch.nansum(logprobs) * (1.0 / m)
        dZ = (1.0 / m) * (AL - Y)
        new_Ws, new_bs = list(Ws), list(bs)
        for l in range(len(Ws) - 1, -1, -1):
            A_prev = activations[l]
            dW = dZ @ A_prev.T
            db = dZ.sum(dim=1, keepdim=True)
            if l > 0:
                dZ = (Ws[l].T @ dZ) * (A_prev > 0)
            new_Ws[l] = Ws[l] - LEARNING_RATE * dW
            new_bs[l] = bs[l] - LEARNING_RATE * db
        return new_Ws, new_bs, cost

    def plain(X, Y, Ws, bs):
        return step(X, Y, Ws, bs, False)[:2]

    def with_cost(X, Y, Ws, bs):
        return step(X, Y, Ws, bs, True)

    if compiled:
        plain = torch.compile(plain, fullgraph=True)
        with_cost = torch.compile(with_cost, fullgraph=True)

    def make(dims, X, Y, parameters, iterations, every):
        L = len(dims) - 1
        tX, tY = torch.from_numpy(X), torch.from_numpy(Y)
        W0 = [torch.from_numpy(parameters[f"W{l}"]) for l in range(1, L + 1)]
        b0 = [torch.from_numpy(parameters[f"b{l}"]) for l in range(1, L + 1)]

        def run():
            Ws, bs, costs = W0, b0, []
            with torch.no_grad():
                for i in range(iterations):
                    if i % every == 0:
                        Ws, bs, cost = with_cost(tX, tY, Ws, bs)
                        costs.append(cost)
                    else:
                        Ws, bs = plain(tX, tY, Ws, bs)
            return torch.stack(costs).numpy()

        return run

    return make


def make_jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax import lax

    def step(params, X, Y):
        Ws, bs = params
        m = X.shape[1]
        activations = [X]
        A = X
        for l in range(len(Ws) - 1):
            A = jnp.maximum(Ws[l] @ A + bs[l], 0.0)
            activations.append(A)
        AL = jax.nn.sigmoid(Ws[-1] @ A + bs[-1])
        dZ = (1.0 / m) * (AL - Y)
        new_Ws, new_bs = list(Ws), list(bs)
        for l in range(len(Ws) - 1, -1, -1):
            A_prev = activations[l]
            dW = dZ @ A_prev.T
            db = dZ.sum(axis=1, keepdims=True)
            if l > 0:
                dZ = (Ws[l].T @ dZ) * (A_prev > 0)
            new_Ws[l] = Ws[l] - LEARNING_RATE * dW
            new_bs[l] = bs[l] - LEARNING_RATE * db
        return (tuple(new_Ws), tuple(new_bs))

    def cost_of(params, X, Y):
        Ws, bs = params
        A = X
        for l in range(len(Ws) - 1):
            A = jnp.maximum(Ws[l] @ A + bs[l], 0.0)
        AL = jax.nn.sigmoid(Ws[-1] @ A + bs[-1])
        logprobs = -jnp.log(AL) * Y + -jnp.log(1 - AL) * (1 - Y)
        return jnp.nansum(logprobs) * (1.0 / X.shape[1])

    def make(dims, X, Y, parameters, iterations, every):
        L = len(dims) - 1
        params = (
            tuple(jnp.asarray(parameters[f"W{l}"]) for l in range(1, L + 1)),
            tuple(jnp.asarray(parameters[f"b{l}"]) for l in range(1, L + 1)),
        )
        jX, jY = jnp.asarray(X), jnp.asarray(Y)

        @jax.jit
        def train(params, X, Y):
            def block(params, _):
                # The cost before the block's first update, as the kernel records it.
                cost = cost_of(params, X, Y)
                params = lax.fori_loop(0, every, lambda i, p: step(p, X, Y), params)
                return params, cost

            return lax.scan(block, params, None, length=iterations // every)

        def run():
            _, costs = train(params, jX, jY)
            return np.asarray(costs.block_until_ready())

        return run

    return make


def implementation(name: str):
    """The maker of ``name``'s training function, or ImportError when it is not installed."""
    if name == "numpy":
        return make_initlab(reference)
    if name == "kernel":
        return make_initlab(kernel)
    if name == "kernel1":
        os.environ["INITLAB_NUM_THREADS"] = "1"
        return make_initlab(kernel)
    if name in ("torch", "compile"):
        return make_torch(compiled=name == "compile")
    return make_jax()


def worker(name: str) -> None:
    """Measure ``name`` on the problems the parent asks for, one JSON line per answer."""
    try:
        make = implementation(name)
    except ImportError as error:
        print(json.dumps({"missing": str(error)}), flush=True)
        return
    print(json.dumps({"ready": True}), flush=True)
    runs = {}
    for line in sys.stdin:
        index = int(line)
        if index not in runs:
            _, dims, m, iterations = PROBLEMS[index]
            X, Y, parameters = problem_data(dims, m)
            runs[index] = make(dims, X, Y, parameters, iterations, iterations // RECORDS)
        run = runs[index]
        warm_until = time.perf_counter() + WARM_UP
        while time.perf_counter() < warm_until:
            run()
        start = time.perf_counter()
        costs = run()
        seconds = time.perf_counter() - start
        print(json.dumps({"seconds": seconds, "costs": costs.tolist()}), flush=True)


class Worker:
    def __init__(self, name: str):
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        hello = json.loads(self.process.stdout.readline() or '{"missing": "the worker died"}')
        self.missing = hello.get("missing")

    def measure(self, index: int) -> tuple[float, np.ndarray]:
        self.process.stdin.write(f"{index}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"{self.name}: the worker stopped on problem {PROBLEMS[index][0]}")
        answer = json.loads(line)
        return answer["seconds"], np.array(answer["costs"])

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def peak_gflops(threads: int, fused: bool) -> float | None:
    """The best of three measurements of the build's peak, in GFLOP/s: of its fused
    multiply-adds, or of its multiplies and adds."""
    probe = getattr(kernel._kernel, "peak_flops", None)  # an older build has none
    if probe is None:
        return None
    try:
        return max(probe(threads, 0.2, fused) for _ in range(3)) / 1e9
    except TypeError:  # a build from before the fused multiply-adds
        return None if fused else max(probe(threads, 0.2) for _ in range(3)) / 1e9


def measure_peaks(counts: list[int]) -> dict[tuple[int, bool], float | None]:
    return {(t, fused): peak_gflops(t, fused) for t in counts for fused in (True, False)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (best of each kept)")
    parser.add_argument("--quick", action="store_true", help="the course problem only")
    parser.add_argument(
        "--only", help="comma-separated implementations, e.g. numpy,kernel (default: all)"
    )
    parser.add_argument("--problems", help="comma-separated problem numbers, from 0")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return

    names = args.only.split(",") if args.only else IMPLEMENTATIONS
    if "numpy" not in names or "kernel" not in names:
        parser.error("--only must keep numpy (the baseline) and kernel")
    if args.quick:
        indices = [0]
    elif args.problems:
        indices = [int(i) for i in args.problems.split(",")]
    else:
        indices = list(range(len(PROBLEMS)))

    threads = kernel.num_threads()
    counts = [1, threads] if threads > 1 else [1]
    peaks = measure_peaks(counts)
    workers = {}
    for name in names:
        w = Worker(name)
        if w.missing:
            print(f"{name}: not measured ({w.missing}); pip install -e '.[bench]' adds it")
            w.close()
        else:
            workers[name] = w
    versions = [f"numpy {np.__version__}"]
    for module in ("torch", "jax"):
        try:
            versions.append(f"{module} {__import__(module).__version__}")
        except ImportError:
            pass
    print(
        f"initlab {initlab.__version__}, kernel build {kernel.INSTRUCTION_SET}, "
        f"{threads} kernel threads, {', '.join(versions)}; "
        f"best of {args.repeat} alternating rounds"
    )
    others = [name for name in workers if name != "kernel"]
    peers = [name for name in others if name not in OURS]
    header = f"{'problem':<30}{'iters':>6}{'kernel us':>11}{'GFLOP/s':>9}{'of peak':>9}"
    header += f"{'spread':>8}"
    header += "".join(f"{name + ' us':>12}{'x':>8}" for name in others)
    print(header)
    worst_trace = 0.0
    lagging = []
    for index in indices:
        name, dims, m, iterations = PROBLEMS[index]
        times = {n: [] for n in workers}
        traces = {}
        for _ in range(args.repeat):
            for n, w in workers.items():
                seconds, costs = w.measure(index)
                times[n].append(seconds)
                traces[n] = costs
                time.sleep(PAUSE)
        ours = traces["kernel"]
        for n in others:
            rel = np.max(np.abs(traces[n] - ours) / np.abs(ours))
            if not rel <= TRACE_RTOL:
                raise SystemExit(
                    f"{name}: {n}'s costs differ from the kernel's by {rel:.1e} (relative)\n"
                    f"kernel {ours}\n{n} {traces[n]}"
                )
            worst_trace = max(worst_trace, rel)
        best = {n: min(t) / iterations * 1e6 for n, t in times.items()}
        spread = max(times["kernel"]) / min(times["kernel"])
        gflops = flops_per_iteration(dims, m) / best["kernel"] / 1e3
        peak = peaks[(threads, True)]
        share = f"{gflops / peak:>9.0%}" if peak else f"{'-':>9}"
        row = f"{name:<30}{iterations:>6}{best['kernel']:>11.1f}{gflops:>9.1f}{share}{spread:>8.2f}"
        row += "".join(f"{best[n]:>12.1f}{best[n] / best['kernel']:>8.2f}" for n in others)
        print(row, flush=True)
        fastest = min(peers, key=lambda n: best[n]) if peers else None
        if fastest and best[fastest] < best["kernel"]:
            lagging.append(f"{name} ({fastest} {best[fastest]:.1f} us)")
    for w in workers.values():
        w.close()
    # Measured again after the table: the best of both, as a busy spell lowers it.
    again = measure_peaks(counts)
    for fused, what in ((True, "fused multiply-adds"), (False, "multiplies and adds")):
        if peaks[(1, fused)] is None:
            continue
        print(
            f"peak of {what} (measured before and after the table, best kept): "
            + ", ".join(
                f"{max(peaks[(t, fused)], again[(t, fused)]):.1f} GFLOP/s on {t} "
                f"thread{'s' * (t > 1)}"
                for t in counts
            )
        )
    print(
        f"x: that implementation's time over the kernel's (above 1: the kernel is faster). "
        f"Every peer's trace within {worst_trace:.1e} of the kernel's."
    )
    if lagging:
        print("the kernel is behind the fastest peer on: " + "; ".join(lagging))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
