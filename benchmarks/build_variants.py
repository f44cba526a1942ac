"""Build the kernel with every compiler and option here and check they compute the same bits.

Each variant is a fresh copy of the sources built in a temporary folder
(``setup.py build_ext --inplace`` with the variant's environment: ``CC``/``CXX``,
``INITLAB_OPENMP``, ``INITLAB_PORTABLE_SIMD``). Each build is then run once per
instruction set it has and this CPU runs (baseline, AVX2, AVX-512, chosen with
``INITLAB_KERNEL``) and, with OpenMP, on 1 and on 2 threads. Every run hashes the
kernel's determinism cases in a fresh process:

- forward: ``kernel.forward`` on networks of every shape class, every hidden
  activation, batches around the 8-column and 128-term blocks, a layer large
  enough to be split over threads, and the sigmoid over its whole range;
- gradients: ``kernel.gradients`` on the same problems;
- training: the course's zeros, random and He traces (15000 iterations) with
  their trained parameters, and shorter trainings of the other problems.

The first row is the package this interpreter imports (the installed build);
every row must show the same three hashes. Exit status 1 when one differs.

    python benchmarks/build_variants.py [--only gcc,clang-portable] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name: environment of the build. gcc and clang each with and without OpenMP,
# and the portable no-vector path (compiled as C++) with each.
VARIANTS = {
    "gcc": {"CC": "gcc", "CXX": "g++", "INITLAB_OPENMP": "1"},
    "gcc-serial": {"CC": "gcc", "CXX": "g++", "INITLAB_OPENMP": "0"},
    "gcc-portable": {"CC": "gcc", "CXX": "g++", "INITLAB_PORTABLE_SIMD": "1"},
    "clang": {"CC": "clang", "CXX": "clang++", "INITLAB_OPENMP": "1"},
    "clang-serial": {"CC": "clang", "CXX": "clang++", "INITLAB_OPENMP": "0"},
    "clang-portable": {"CC": "clang", "CXX": "clang++", "INITLAB_PORTABLE_SIMD": "1"},
}
BUILD_VARIABLES = ("CC", "CXX", "INITLAB_OPENMP", "INITLAB_PORTABLE_SIMD", "CFLAGS", "LDSHARED")


def cases():
    """{case: sha256 hex} of the determinism cases, computed with the imported initlab."""
    import numpy as np

    from initlab import kernel, load_circles, reference

    activations = reference.ACTIVATIONS
    networks = [
        [1, 1],
        [3, 1],
        [2, 10, 5, 1],
        [5, 4, 4, 3],
        [7, 3, 9, 6, 2],
        [12, 33, 17, 1],
        [4, 6, 5, 4, 3, 2, 1],
    ]
    batches = [1, 3, 8, 13, 129, 300]
    rng = np.random.default_rng(20240601)

    def problem(dims, m):
        X = rng.normal(size=(dims[0], m))
        Y = (rng.random((dims[-1], m)) < 0.5).astype(np.float64)
        parameters = {}
        for l in range(1, len(dims)):
            parameters[f"W{l}"] = rng.normal(size=(dims[l], dims[l - 1])) / np.sqrt(dims[l - 1])
            parameters[f"b{l}"] = rng.normal(size=(dims[l], 1)) * 0.1
        return X, Y, parameters

    problems = [(dims, m, problem(dims, m)) for dims in networks for m in batches]
    # Large enough for the threaded matrix products (n_l n_(l-1) m >= 2^20).
    large = [([64, 130, 33, 3], 203), ([784, 128, 64, 10], 120)]
    problems += [(dims, m, problem(dims, m)) for dims, m in large]

    digests = {name: hashlib.sha256() for name in ("forward", "gradients", "training")}

    def add(name, *arrays):
        for array in arrays:
            digests[name].update(np.ascontiguousarray(array, dtype=np.float64).tobytes())

    z = np.concatenate([np.linspace(-800, 800, 40001), [-745.2, -709.9, -36.8, 0.0, 36.8]])
    unit = {"W1": np.ones((1, 1)), "b1": np.zeros((1, 1))}
    add("forward", kernel.forward(z.reshape(1, -1), unit))
    for _, _, (X, Y, parameters) in problems:
        for activation in activations:
            add("forward", kernel.forward(X, parameters, activation))
            cost, grads = kernel.gradients(X, Y, parameters, activation)
            add("gradients", [cost], *(grads[key] for key in sorted(grads)))

    train_X, train_Y, _, _ = load_circles()
    for init in ("zeros", "random", "he"):
        trained, costs = kernel.train(
            train_X, train_Y, reference.initialize_parameters([2, 10, 5, 1], init)
        )
        add("training", costs, *(trained[key] for key in sorted(trained)))
    for _, m, (X, Y, parameters) in problems[:: len(batches) // 2]:
        for activation in activations:
            trained, costs = kernel.train(
                X, Y, parameters, learning_rate=0.05, num_iterations=30 if m > 200 else 200,
                record_every=7, hidden_activation=activation,
            )
            add("training", costs, *(trained[key] for key in sorted(trained)))

    build = getattr(kernel, "BUILD", {"instruction_set": kernel.INSTRUCTION_SET})
    return {"build": build, "hashes": {name: d.hexdigest() for name, d in digests.items()}}


def run_cases(pythonpath: str | None, instruction_set: str, threads: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "INITLAB_KERNEL")}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    env["INITLAB_KERNEL"] = instruction_set
    env["INITLAB_NUM_THREADS"] = str(threads)
    result = subprocess.run(
        [sys.executable, __file__, "--cases"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr else "failed")
    return json.loads(result.stdout)


def build(name: str, variables: dict, where: Path) -> Path:
    """A copy of the sources in where, its extensions built in place; returns its src folder."""
    for item in ("setup.py", "pyproject.toml", "README.md", "MANIFEST.in"):
        shutil.copy2(ROOT / item, where / item)
    shutil.copytree(
        ROOT / "src",
        where / "src",
        ignore=shutil.ignore_patterns("*.so", "*.pyd", "*.c", "*.cpp", "__pycache__", "*.egg-info"),
    )
    env = {k: v for k, v in os.environ.items() if k not in BUILD_VARIABLES}
    env.update(variables)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace"],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
    )
    (where / "build.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"{name}: the build failed:\n{tail}")
    print(f"built {name} in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return where / "src"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", help="comma-separated variants (default: all)")
    parser.add_argument("--keep", help="build in this folder and keep it (default: a temporary)")
    args = parser.parse_args(argv)
    if args.cases:
        json.dump(cases(), sys.stdout)
        return 0
    names = args.only.split(",") if args.only else list(VARIANTS)
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}")

    from initlab import kernel  # the installed build: the reference row

    cpu_isas = list(kernel._BUILDS[: kernel._BUILDS.index(kernel._baseline.best_supported()) + 1])
    rows = []

    def measure(label, pythonpath):
        for isa in cpu_isas:
            first = run_cases(pythonpath, isa, 1)
            runs = [(1, first)]
            if first["build"].get("openmp"):
                runs.append((2, run_cases(pythonpath, isa, 2)))
            for threads, out in runs:
                rows.append((label, threads, out))

    measure("installed", None)
    top = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="initlab-variants-"))
    top.mkdir(parents=True, exist_ok=True)
    try:
        for name in names:
            where = top / name
            if where.exists():
                shutil.rmtree(where)
            where.mkdir()
            try:
                measure(name, str(build(name, VARIANTS[name], where)))
            except RuntimeError as error:
                rows.append((name, 0, {"error": str(error)}))
    finally:
        if not args.keep:
            shutil.rmtree(top, ignore_errors=True)

    reference = rows[0][2]["hashes"]
    header = ("variant", "compiler", "isa", "openmp", "simd", "thr", "forward", "gradients",
              "training", "same bits")
    table = []
    failures = 0
    for label, threads, out in rows:
        if "error" in out:
            table.append((label, "-", "-", "-", "-", "-", "-", "-", "-", "BUILD FAILED"))
            print(out["error"], file=sys.stderr)
            failures += 1
            continue
        b, h = out["build"], out["hashes"]
        same = h == reference
        failures += not same
        table.append((
            label, b.get("compiler", "?"), b.get("instruction_set", "?"),
            {True: "yes", False: "no"}.get(b.get("openmp"), "?"), b.get("simd", "?"),
            str(threads), h["forward"][:12], h["gradients"][:12], h["training"][:12],
            "yes" if same else "NO",
        ))
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *table]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(f"\nreference (installed build): forward {reference['forward']}")
    print(f"                             gradients {reference['gradients']}")
    print(f"                             training {reference['training']}")
    print("all variants give the same bits" if not failures else f"{failures} row(s) differ")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
