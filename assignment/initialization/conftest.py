"""The self-check's options (``--rubric``), its tests, and the points table at the end."""

from initlab.selfcheck import pytest_addoption, pytest_generate_tests  # noqa: F401
from initlab.selfcheck import pytest_terminal_summary  # noqa: F401
