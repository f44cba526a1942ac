"""The language initlab speaks, and its gettext catalogs.

English is the source: every text is written in English in the code (a message
of ``initlab.messages``' catalog, or a string wrapped in ``_``), and the other
languages are gettext catalogs, ``locale/<locale>/LC_MESSAGES/initlab.po``.
The language is chosen, first to last, by ``set_language`` (the ``--lang``
option of every command), the ``INITLAB_LANG`` environment variable, and the
locale as gettext reads it (the first of ``LC_ALL``, ``LC_MESSAGES`` and
``LANG`` that is set); English otherwise.

A built package holds each catalog compiled (``.mo``, by setup.py). In a source
tree the ``.po`` file is the catalog: a ``.mo`` beside it is used only when it
was compiled from that very ``.po`` (it records the ``.po``'s SHA-256), and
otherwise the ``.po`` is compiled in memory with Babel, so a stale ``.mo`` is
never read.
"""

from __future__ import annotations

import contextlib
import gettext
import hashlib
import io
import os
import sys
import unicodedata
from functools import cache
from pathlib import Path

__all__ = ["LANGUAGES", "_", "language", "lookup", "set_language"]

DOMAIN = "initlab"
LOCALEDIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "zh")
LOCALES = {"zh": "zh_CN"}  # the catalog folder of each language but English
ENVIRONMENT = "INITLAB_LANG"
# The .mo's record of the .po it was compiled from: a message of its own context.
SOURCE_CONTEXT = "initlab-catalog"
SOURCE_ID = "source-sha256"

_chosen: str | None = None
_UNSET = object()
_environment_before: object = _UNSET  # INITLAB_LANG before set_language put its choice there


def normalize(value: str | None) -> str | None:
    """The language a setting names ("zh", "zh_CN.UTF-8", "zh-Hans", "en_US"), or None
    for one initlab does not speak ("C", "fr_FR")."""
    if not value:
        return None
    code = value.strip().split(".")[0].split("@")[0].replace("-", "_").lower()
    base = code.split("_")[0]
    return base if base in LANGUAGES else None


def from_environment(environ: dict | None = None) -> str:
    """The language the environment asks for: INITLAB_LANG, then the locale (the first
    of LC_ALL, LC_MESSAGES, LANG that is set, as gettext reads it), else English."""
    environ = os.environ if environ is None else environ
    chosen = normalize(environ.get(ENVIRONMENT))
    if chosen:
        return chosen
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(variable)
        if value:
            return normalize(value) or "en"
    return "en"


def set_language(lang: str | None) -> None:
    """Speak lang ("en" or "zh") from now on; None: the language the environment asks
    for. The choice is also put in INITLAB_LANG, so the processes this one starts (the
    grading processes of a class) speak it too."""
    global _chosen, _environment_before
    if lang is None:
        _chosen = None
        if _environment_before is not _UNSET:  # the environment as it was
            if _environment_before is None:
                os.environ.pop(ENVIRONMENT, None)
            else:
                os.environ[ENVIRONMENT] = _environment_before
            _environment_before = _UNSET
        return
    chosen = normalize(lang)
    if chosen is None:
        raise ValueError(f"initlab speaks {' and '.join(LANGUAGES)}, not {lang!r}")
    if _environment_before is _UNSET:
        _environment_before = os.environ.get(ENVIRONMENT)
    _chosen = chosen
    os.environ[ENVIRONMENT] = chosen


@contextlib.contextmanager
def speaking(lang: str | None):
    """Speak lang inside the block (None: as outside it); the environment is left as it is."""
    global _chosen
    saved = _chosen
    if lang is not None:
        chosen = normalize(lang)
        if chosen is None:
            raise ValueError(f"initlab speaks {' and '.join(LANGUAGES)}, not {lang!r}")
        _chosen = chosen
    try:
        yield
    finally:
        _chosen = saved


def language() -> str:
    """The language initlab speaks now: "en" or "zh"."""
    return _chosen or from_environment()


def lang_from_argv(argv: list[str]) -> str | None:
    """The value of a --lang option anywhere on a command line (``--lang zh`` or
    ``--lang=zh``), read before the parser is built so that its help is translated."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return None


def catalog_path(lang: str, suffix: str, localedir: Path = LOCALEDIR) -> Path:
    return localedir / LOCALES[lang] / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


def translations(lang: str | None = None, localedir: Path = LOCALEDIR) -> gettext.NullTranslations:
    """The catalog of lang (default: the current language); English has none."""
    lang = lang or language()
    if lang == "en":
        return gettext.NullTranslations()
    return _load(lang, localedir)


@cache
def _load(lang: str, localedir: Path) -> gettext.NullTranslations:
    po, mo = catalog_path(lang, ".po", localedir), catalog_path(lang, ".mo", localedir)
    if mo.is_file():
        with mo.open("rb") as file:
            compiled = gettext.GNUTranslations(file)
        if not po.is_file() or compiled.pgettext(SOURCE_CONTEXT, SOURCE_ID) == source_hash(po):
            return compiled
    if po.is_file():
        try:
            return gettext.GNUTranslations(io.BytesIO(compile_po(po)))
        except ImportError:
            print(
                f"initlab: the {lang} catalog {po.name} is not compiled and Babel is not "
                "installed to read it (pip install babel); speaking English",
                file=sys.stderr,
            )
    return gettext.NullTranslations()


def source_hash(po: Path) -> str:
    return hashlib.sha256(po.read_bytes()).hexdigest()


def compile_po(po: Path) -> bytes:
    """The .mo of a .po file (with Babel), recording the .po's SHA-256."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as file:
        catalog = read_po(file)
    catalog.add(SOURCE_ID, source_hash(po), context=SOURCE_CONTEXT)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def lookup(message_id: str, english: str) -> str:
    """A catalog message in the current language: the translation of english, the
    message's English template, in the context of its id."""
    if language() == "en":
        return english
    return translations().pgettext(message_id, english)


def _(english: str) -> str:
    """english in the current language (gettext's ``_``)."""
    if language() == "en":
        return english
    return translations().gettext(english)


def N_(english: str) -> str:
    """Marks english for the catalog without translating it now (it is translated
    where it is shown, with ``_``)."""
    return english


def p_(context: str, english: str) -> str:
    """english in the current language, in a context (a word that means two things)."""
    if language() == "en":
        return english
    return translations().pgettext(context, english)


# A test's status as a table shows it (results.json and --json keep the English word).
# The catalog has them in the context "status" (see initlab._catalogs).
_STATUS_WORDS = (
    "passed",
    "failed",
    "error",
    "ok",
    "timeout",
    "invalid",
    "crashed",
    "infrastructure",
)


def status(value: str) -> str:
    """A test's status in the current language."""
    return p_("status", value) if value in _STATUS_WORDS else value


def width(text: str) -> int:
    """The columns text takes on a terminal: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, columns: int) -> str:
    """text left-aligned in columns (ljust by what a terminal shows)."""
    return text + " " * max(0, columns - width(text))


def rpad(text: str, columns: int) -> str:
    """text right-aligned in columns."""
    return " " * max(0, columns - width(text)) + text


def translate_argparse() -> None:
    """argparse's own words (usage:, options, its errors) in the current language; they
    are in initlab's catalog (initlab.cli.ARGPARSE_WORDS)."""
    import argparse

    if language() == "en":
        argparse._ = gettext.gettext
        argparse.ngettext = gettext.ngettext
        return
    catalog = translations()
    argparse._ = catalog.gettext
    argparse.ngettext = catalog.ngettext
