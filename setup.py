"""The compiled extensions; all other metadata lives in pyproject.toml.

The kernel gives the same bits with every compiler, instruction set and thread
count as long as the compiler neither fuses a multiply and an add nor reorders
a sum; the flags below ask each compiler for that (gcc and clang:
-ffp-contract=off -fno-fast-math; MSVC: /fp:precise, and the fp_contract pragma
in _simd.h).

Environment variables, for a machine's needs and for the variant builds of
benchmarks/build_variants.py:

CC, CXX
    the compiler (the usual variables of setuptools), e.g. CC=clang CXX=clang++
INITLAB_OPENMP
    "auto" (default): OpenMP when the compiler can compile and link an OpenMP
    program (gcc; clang with libomp), else a serial build; never with MSVC,
    whose OpenMP runtime (vcomp140.dll) is not part of Python. "1": OpenMP or
    an error. "0": a serial build. Results are the same bits either way.
INITLAB_PORTABLE_SIMD
    "1": the portable path of _simd.h instead of the GCC/Clang vector
    extensions, the one MSVC always uses. It is compiled as C++.
"""

import contextlib
import importlib.util
import os
import re
import sys
import sysconfig
import tempfile
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

try:
    from setuptools.errors import CompileError, LinkError
except ImportError:  # setuptools < 59
    from distutils.errors import CompileError, LinkError

# Contraction off (the compiler fuses no multiply and add of its own, so every
# instruction set rounds alike; the large matrix products ask for fused multiply-adds
# by name, which every build computes exactly), no fast-math; the rest is speed.
# -Wno-psabi: gcc and clang warn that a 4-double vector is passed differently with
# and without AVX, which is of no concern inside one module.
UNIX_FLAGS = ["-O3", "-funroll-loops", "-ffp-contract=off", "-fno-fast-math"]
UNIX_QUIET = ["-Wno-psabi"]
MSVC_FLAGS = ["/O2", "/fp:precise"]
# The x86-64 variants of the kernel: AVX2 with FMA (x86-64-v3), and AVX-512 (x86-64-v4).
VARIANT_FLAGS = {
    "_avx2": {"unix": ["-mavx2", "-mfma"], "msvc": ["/arch:AVX2"]},
    "_avx512": {
        "unix": ["-mavx2", "-mfma", "-mavx512f", "-mavx512dq", "-mavx512vl", "-mavx512bw"],
        "msvc": ["/arch:AVX512"],
    },
}
# (compile, link) flags to try, in order; the first that builds a test program wins.
OPENMP_CANDIDATES = [(["-fopenmp"], ["-fopenmp"])]
if sys.platform == "darwin":
    # Apple's clang with Homebrew's libomp (its paths in CPPFLAGS and LDFLAGS).
    OPENMP_CANDIDATES.append((["-Xpreprocessor", "-fopenmp"], ["-lomp"]))

OPENMP_TEST = r"""
#include <omp.h>
int main(void) {
    int threads = 0;
#pragma omp parallel reduction(+ : threads)
    threads += omp_get_thread_num() >= 0;
    return threads > 0 ? 0 : 1;
}
"""


def choice(name, allowed, default):
    value = os.environ.get(name, default)
    if value not in allowed:
        sys.exit(f"error: {name} is {value!r}; expected one of {', '.join(map(repr, allowed))}")
    return value


OPENMP = choice("INITLAB_OPENMP", ("auto", "0", "1"), "auto")
# MSVC has no vector extensions: the portable path there, and wherever asked for.
PORTABLE = choice("INITLAB_PORTABLE_SIMD", ("0", "1"), "0") == "1" or sys.platform == "win32"


def target_is_x86_64():
    """Whether the extensions are built for x86-64 only (not for arm64 or universal2 too).

    Cross-compiling builds (cibuildwheel on macOS) name the target in ARCHFLAGS
    and _PYTHON_HOST_PLATFORM, which sysconfig.get_platform() follows.
    """
    if sys.platform == "darwin" and os.environ.get("ARCHFLAGS"):
        return re.findall(r"-arch\s+(\S+)", os.environ["ARCHFLAGS"]) == ["x86_64"]
    return sysconfig.get_platform().lower().endswith(("x86_64", "amd64"))


@contextlib.contextmanager
def silenced():
    """The compiler's own messages about a failed probe would read as a failed build."""
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def builds(compiler, source, compile_args=(), link_args=None):
    """Whether compiler compiles source (and links it into a program, given link_args)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "probe.c")
        with open(path, "w") as file:
            file.write(source)
        try:
            with silenced():
                objects = compiler.compile(
                    [path], output_dir=folder, extra_postargs=list(compile_args)
                )
                if link_args is not None:
                    compiler.link_executable(
                        objects, "probe", output_dir=folder, extra_postargs=list(link_args)
                    )
        except (CompileError, LinkError):
            return False
    return True


class BuildExt(build_ext):
    """build_ext with the flags of the compiler it finds."""

    def build_extensions(self):
        compiler = self.compiler
        kind = "msvc" if compiler.compiler_type == "msvc" else "unix"
        if kind == "msvc":
            name = "msvc"
            flags = list(MSVC_FLAGS)
        else:
            name = "clang" if builds(compiler, "#ifndef __clang__\n#error\n#endif\n") else "gcc"
            flags = UNIX_FLAGS + [f for f in UNIX_QUIET if builds(compiler, "", [f, "-Werror"])]
        openmp = self.openmp_flags(compiler, kind, name)
        for ext in self.extensions:
            variant = ext.name[len("initlab._kernel") :]
            extra = list(VARIANT_FLAGS[variant][kind]) if variant else []
            if kind == "msvc" and ext.language == "c++":
                extra = extra + ["/EHsc"]
            ext.extra_compile_args = flags + openmp[0] + extra
            ext.extra_link_args = openmp[1]
        print(
            f"initlab: {name}, OpenMP {'yes' if openmp[0] else 'no'}, "
            f"{'portable SIMD (C++)' if PORTABLE else 'vector extensions'}, "
            f"extensions {', '.join(ext.name for ext in self.extensions)}",
            flush=True,
        )
        super().build_extensions()

    def openmp_flags(self, compiler, kind, name):
        """(compile, link) flags for OpenMP, or ([], []) for a serial build."""
        if OPENMP == "0" or (OPENMP == "auto" and kind == "msvc"):
            return [], []
        if kind == "msvc":
            return ["/openmp"], []
        for compile_args, link_args in OPENMP_CANDIDATES:
            if builds(compiler, OPENMP_TEST, compile_args, link_args):
                return compile_args, link_args
        if OPENMP == "1":
            sys.exit(
                f"error: INITLAB_OPENMP=1 but {name} cannot compile and link an OpenMP "
                "program (omp.h or the OpenMP runtime, e.g. libomp, is missing); install it "
                "or leave INITLAB_OPENMP unset for a serial build"
            )
        print(f"initlab: {name} has no OpenMP here (no omp.h or runtime): a serial build")
        return [], []


def kernel(name):
    return Extension(
        f"initlab.{name}",
        [f"src/initlab/{name}.pyx"],
        include_dirs=["src/initlab"],
        language="c++" if PORTABLE else "c",
        define_macros=[("INITLAB_PORTABLE_SIMD", "1")] if PORTABLE else [],
    )


extensions = [kernel("_kernel")]
if target_is_x86_64():
    # The same source with wider vectors; initlab.kernel picks the best the CPU runs.
    extensions.append(kernel("_kernel_avx2"))
    extensions.append(kernel("_kernel_avx512"))


# The message catalogs: every src/initlab/locale/<locale>/LC_MESSAGES/initlab.po is
# compiled (with Babel, by initlab.i18n.compile_po) to the .mo the package reads, in
# the built package, and beside the .po in an editable install.
class build_py_with_catalogs(build_py):
    def run(self):
        super().run()
        spec = importlib.util.spec_from_file_location("initlab_i18n", "src/initlab/i18n.py")
        i18n = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(i18n)
        for po in sorted(Path("src/initlab/locale").glob("*/LC_MESSAGES/*.po")):
            mo = po.with_suffix(".mo")
            if not getattr(self, "editable_mode", False):
                mo = Path(self.build_lib) / mo.relative_to("src")
            mo.parent.mkdir(parents=True, exist_ok=True)
            mo.write_bytes(i18n.compile_po(po))


setup(
    cmdclass={"build_ext": BuildExt, "build_py": build_py_with_catalogs},
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
)
