"""The assignments initlab grades: one folder each, and one line each in REGISTRY.

An assignment (``initlab.assignments.base.Assignment``) is data plus its judges:
its functions and the stub module of each, its rubrics, the calls to make and
how each function is judged. Its solutions, stubs and notebook live in the
project under its name (``graders/solutions/<name>/``, ``assignment/<name>/``,
``graders/nbgrader/source/<name>/``).
"""

from __future__ import annotations

import functools
import importlib

from initlab import messages
from initlab.assignments.base import Assignment, UnknownName
from initlab.i18n import _

__all__ = ["DEFAULT", "REGISTRY", "Assignment", "UnknownName", "get", "names"]

# name -> the module whose ASSIGNMENT it is
REGISTRY = {
    "initialization": "initlab.assignments.initialization",
    "planar": "initlab.assignments.planar",
}
DEFAULT = "initialization"


def names() -> list[str]:
    return list(REGISTRY)


def get(name: str | None = None) -> Assignment:
    """The assignment called name (default: DEFAULT); UnknownName lists the others."""
    name = name or DEFAULT
    if name not in REGISTRY:
        raise UnknownName(
            _("no assignment {name}; the assignments are {names}").format(
                name=repr(name), names=", ".join(REGISTRY)
            )
        )
    return _loaded(name)


@functools.cache
def _loaded(name: str) -> Assignment:
    """The assignment's module imported, and its messages added to the catalog, once."""
    assignment = importlib.import_module(REGISTRY[name]).ASSIGNMENT
    messages.register(assignment.messages)
    return assignment
