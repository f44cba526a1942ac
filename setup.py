"""The compiled extensions; all other metadata lives in pyproject.toml."""

import importlib.util
import platform
import sys
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_py import build_py

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
    cmdclass={"build_py": build_py_with_catalogs},
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
