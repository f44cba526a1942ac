"""Shared fixtures: the course's data, and the published traces of SPEC section 4."""

import numpy as np
import pytest

from initlab import load_circles

# Published costs at iterations 0, 1000, ..., 14000 (SPEC section 4).
HE_TRACE = np.array(
    [
        0.8830537463419761,
        0.6879825919728063,
        0.6751286264523371,
        0.6526117768893807,
        0.6082958970572938,
        0.5304944491717495,
        0.4138645817071795,
        0.31178034648444414,
        0.23696215330322565,
        0.18597287209206836,
        0.15015556280371808,
        0.12325079292273551,
        0.09917746546525935,
        0.08457055954024276,
        0.07357895962677363,
    ]
)
ZEROS_TRACE = np.full(15, 0.6931471805599453)
ZEROS_TRACE[10] = 0.6931471805599455


@pytest.fixture(scope="session")
def circles():
    return load_circles()


def run_nbgrader(course, *args: str, check_timeout: float = 5):
    """nbgrader ARGS in the course folder, which must succeed; a check of a student's
    function may run check_timeout seconds (INITLAB_CHECK_TIMEOUT)."""
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        capture_output=True,
        text=True,
        env={**os.environ, "INITLAB_CHECK_TIMEOUT": str(check_timeout)},
    )
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done
