"""Every message a diagnosis carries, in one catalog per language.

A message is looked up by its id, the diagnosis code or ``code.variant`` (one
code can be reached in several ways), and filled with named parameters:
numbers, shapes and code stay as the check found them, the words are the
catalog's. English (``initlab.messages.en``) is the source of every id; the
other languages are gettext catalogs (``initlab.i18n``), which translate each
English template in the context of its id. The check library never writes a
sentence itself, it calls ``say``; the text is in the language initlab speaks
when the diagnosis is made (``set_language``, ``INITLAB_LANG``, the locale).
"""

from __future__ import annotations

from initlab import _loader
from initlab.checks import Diagnosis
from initlab.i18n import language, lookup, set_language
from initlab.messages.en import CATALOG

__all__ = ["CATALOG", "language", "register", "say", "set_language", "text"]


def register(entries: dict[str, str]) -> None:
    """Add an assignment's own messages; an id may not mean two things."""
    for key, template in entries.items():
        if CATALOG.get(key, template) != template:
            raise ValueError(f"the message {key!r} is defined twice, differently")
        CATALOG[key] = template


register(_loader.MESSAGES)  # said in the sandbox, in the language the grader gives it


def text(message_id: str, /, **params: object) -> str:
    """The catalog's message, filled with params."""
    return lookup(message_id, CATALOG[message_id]).format(**params)


def say(message_id: str, /, **params: object) -> Diagnosis:
    """The diagnosis of a message: its code is the message id's first part."""
    return Diagnosis(message_id.split(".", 1)[0], text(message_id, **params), message_id, params)


def checked_on(diagnosis: Diagnosis, where: str) -> Diagnosis:
    """The diagnosis, its message saying the network it was found on."""
    if text("checked_on", message="", where=where).strip() in diagnosis.message:
        return diagnosis
    message = text("checked_on", message=diagnosis.message, where=where)
    return Diagnosis(diagnosis.code, message, diagnosis.key, {**diagnosis.params, "where": where})
