"""Lists the points of every function at the end of the self-check."""

from initlab.selfcheck import pytest_terminal_summary  # noqa: F401
