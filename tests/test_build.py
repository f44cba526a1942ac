"""initlab.kernel says which build it runs; setup.py names a bad build option.

That every build (gcc, clang, with and without OpenMP, the portable SIMD path)
gives the same bits is checked by benchmarks/build_variants.py, which compiles
each of them.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from initlab import kernel

SETUP = Path(__file__).resolve().parents[1] / "setup.py"


def run_kernel_module(**env):
    result = subprocess.run(
        [sys.executable, "-m", "initlab.kernel"],
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_build_describes_the_module_in_use():
    build = kernel.BUILD
    assert set(build) == {"compiler", "instruction_set", "openmp", "simd"}
    assert build["instruction_set"] == kernel.INSTRUCTION_SET
    assert re.fullmatch(r"(gcc|clang|msvc) \S.*", build["compiler"]), build["compiler"]
    assert isinstance(build["openmp"], bool)
    assert build["simd"] in ("vector extensions", "portable")
    # MSVC has no vector extensions: its builds always take the portable path.
    assert build["simd"] == "portable" or not build["compiler"].startswith("msvc")


def test_each_instruction_set_reports_itself():
    """INITLAB_KERNEL picks the module; `python -m initlab.kernel` prints what that one is."""
    baseline = run_kernel_module(INITLAB_KERNEL="baseline")
    assert "instruction_set: baseline" in baseline
    assert f"compiler: {kernel.BUILD['compiler']}" in baseline
    builds = kernel._BUILDS[: kernel._BUILDS.index(kernel._baseline.best_supported()) + 1]
    for build in builds[1:]:
        wider = run_kernel_module(INITLAB_KERNEL=build)
        assert f"instruction_set: {build}" in wider
        # One build, several modules: the same compiler, OpenMP and SIMD path.
        assert wider.replace(build, "baseline") == baseline


@pytest.mark.skipif(
    not SETUP.exists() or importlib.util.find_spec("Cython") is None,
    reason="needs the source tree and Cython",
)
@pytest.mark.parametrize("variable", ["INITLAB_OPENMP", "INITLAB_PORTABLE_SIMD"])
def test_setup_names_a_bad_build_option(variable):
    result = subprocess.run(
        [sys.executable, str(SETUP), "--name"],
        cwd=SETUP.parent,
        env=dict(os.environ, **{variable: "yes"}),
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert result.stderr.strip() == (
        f"error: {variable} is 'yes'; expected one of "
        + ("'auto', '0', '1'" if variable == "INITLAB_OPENMP" else "'0', '1'")
    )
