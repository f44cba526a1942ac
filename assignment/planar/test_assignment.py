"""Check your work: run ``pytest`` in this folder.

Every function of planar.py has a test worth its points. A test passes when the
function earns all of them; otherwise it fails and says what is wrong, on which
network. The points of every function are listed at the end.

Your code runs in a separate process, and the expected values are computed by
the installed ``initlab`` package when the tests run: nothing here holds the answers.
"""

from pathlib import Path

import pytest

from initlab.selfcheck import failure_message, verdict_for

ASSIGNMENT = "planar"
HERE = Path(__file__).parent


def test_function(function, request):
    rubric = request.config.getoption("--rubric")
    verdict = verdict_for(HERE, function, ASSIGNMENT, rubric)
    if verdict.status != "passed":
        pytest.fail(failure_message(verdict), pytrace=False)
