"""The self-check: its --rubric option, one test per function, the points table at the end."""

pytest_plugins = ["initlab.selfcheck"]
