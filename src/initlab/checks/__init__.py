"""The check library: judges what student code returned and names the mistake.

Every verdict is computed here, in the grader's own process, from the raw
values the student's function returned; expected values come from
``initlab.reference`` at check time. One test per student function:
``Verdict`` carries its score and the diagnoses, each a stable code with a
message in plain words and the measured numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from initlab.i18n import _

__all__ = ["Diagnosis", "Foreign", "Verdict", "type_name"]


@dataclass(frozen=True)
class Foreign:
    """A value student code returned that is not a plain ndarray (a list, an
    ndarray subclass such as numpy.matrix, ...), as the grader received it:
    the name of its type and its values as an array, when it had any."""

    type_name: str
    array: object = None


def type_name(value: object) -> str:
    """The type of what student code returned, as the student wrote it."""
    if isinstance(value, Foreign):
        name = value.type_name
    else:
        name = f"{type(value).__module__}.{type(value).__qualname__}"
    return name.removeprefix("builtins.")


@dataclass(frozen=True)
class Diagnosis:
    """One mistake: a stable ``code``, a ``message`` for the student, and the catalog
    message id and parameters it was written from (``initlab.messages.say``)."""

    code: str
    message: str
    key: str = field(default="", compare=False)
    params: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass
class Verdict:
    """The result of one test: ``status`` is "passed", "failed" or "error"."""

    name: str
    max_score: float
    score: float = 0.0
    diagnoses: list[Diagnosis] = field(default_factory=list)
    status: str = "failed"
    source: str = ""  # the submission's file the function was graded from
    output: str = ""  # what the function printed or warned while it was checked (not judged)

    @property
    def message(self) -> str:
        if not self.diagnoses:
            return _("correct")
        return "\n".join(d.message for d in self.diagnoses)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "score": self.score,
            "max_score": self.max_score,
            "status": self.status,
            "diagnoses": [d.code for d in self.diagnoses],
            "message": self.message,
            "source": self.source,
        }
