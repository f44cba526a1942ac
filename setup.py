"""The compiled extensions; all other metadata lives in pyproject.toml."""

import platform

from Cython.Build import cythonize
from setuptools import Extension, setup

# -ffp-contract=off: no fused multiply-add, so every instruction set rounds alike.
FLAGS = ["-O3", "-ffp-contract=off", "-fno-fast-math", "-Wno-psabi"]
X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "i386")


def kernel(name, flags):
    return Extension(
        f"initlab.{name}",
        [f"src/initlab/{name}.pyx"],
        include_dirs=["src/initlab"],
        extra_compile_args=FLAGS + flags,
    )


extensions = [kernel("_kernel", [])]
if X86:
    # Same source, wider vectors; chosen at import time on CPUs that have AVX2.
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
