"""The compiled extensions; all other metadata lives in pyproject.toml."""

import platform
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

# -ffp-contract=off: no fused multiply-add, so every instruction set rounds alike.
FLAGS = ["-O3", "-funroll-loops", "-ffp-contract=off", "-fno-fast-math", "-Wno-psabi"]
# OpenMP splits large layers over threads (each output element on one thread).
OPENMP = ["-fopenmp"] if sys.platform.startswith("linux") else []
X86 = platform.machine().lower() in ("x86_64", "amd64")


def kernel(name, flags):
    return Extension(
        f"initlab.{name}",
        [f"src/initlab/{name}.pyx"],
        include_dirs=["src/initlab"],
        extra_compile_args=FLAGS + OPENMP + flags,
        extra_link_args=OPENMP,
    )


extensions = [kernel("_kernel", [])]
if X86:
    # The same source with wider vectors; initlab.kernel picks the best the CPU runs.
    extensions.append(kernel("_kernel_avx2", ["-mavx2"]))

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )
)
