"""The course's notebooks in other languages: one source, its text translated.

The English course notebook (``graders/nbgrader/source/<assignment>/<notebook>``)
is the source of every edition. An edition's markdown cells come from a gettext
catalog, ``graders/nbgrader/translations/<lang>/<assignment>.po``, whose ``msgid``
is the English text of a whole cell (as Sphinx's intl does for a document's
paragraphs) and ``msgstr`` its translation. Its code cells are the English ones;
only the cell that imports ``check`` gains the line that makes the checks speak
the edition's language. The edition is an nbgrader assignment of its own in the
same course, ``<assignment>_<lang>``, and its students' folder is
``assignment/<assignment>_<lang>/``.

A cell whose English text changed has no translation: ``initlab release --edition
LANG --update-translations`` adds its new text to the catalog, with the old
translation beside it marked fuzzy and the old English in comments, for the
translator to revise; a fuzzy translation is never used.
"""

from __future__ import annotations

import copy
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from initlab.i18n import _
from initlab.release import ReleaseError

EDITIONS = ("en", "zh")
LOCALES = {"zh": "zh_CN"}
# The line each edition adds to the cell that imports check, and its comment.
CHECK_IMPORT = "from initlab.checks.notebook import check"
LANGUAGE_IMPORT = "from initlab.messages import set_language"
LANGUAGE_COMMENT = {"zh": "测试单元格的检查结果用中文显示"}
# A letter of the edition's script: a translation without one is not translated.
SCRIPT = {"zh": re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")}
PREVIOUS = "English before:"
HEADER = """\
The markdown cells of the {notebook} notebook of the initlab course ({assignment}),
in {locale}. msgid: the English text of a cell, msgstr: its translation. Generate the
notebooks with `initlab release --assignment {assignment} --edition {edition} --force`."""


class TranslationError(ReleaseError):
    """An edition that cannot be generated: a catalog missing, or cells untranslated."""


# Where an edition's files are in a checkout of the project (see initlab.assignments.base).
def course_name(assignment, edition: str) -> str:
    """The nbgrader assignment of an edition: the assignment's name, then _<lang>."""
    return assignment.name if edition == "en" else f"{assignment.name}_{edition}"


def course_notebook(course: Path, assignment, edition: str) -> Path:
    return course / "source" / course_name(assignment, edition) / assignment.notebook


def student_dir(root: Path, assignment, edition: str) -> Path:
    return root / "assignment" / course_name(assignment, edition)


def translations_dir(course: Path, edition: str) -> Path:
    return course / "translations" / edition


def catalog_path(course: Path, assignment, edition: str) -> Path:
    return translations_dir(course, edition) / f"{assignment.name}.po"


def cell_text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def markdown_cells(notebook: dict) -> list[tuple[int, str]]:
    """(index, English text) of every markdown cell with text."""
    return [
        (i, cell_text(cell))
        for i, cell in enumerate(notebook.get("cells", []))
        if cell.get("cell_type") == "markdown" and cell_text(cell).strip()
    ]


def _lines(text: str) -> list[str]:
    """A cell's source as nbformat stores it: its lines, each with its newline."""
    return text.splitlines(keepends=True)


def _excerpt(text: str) -> str:
    first = text.strip().splitlines()[0]
    return repr(first if len(first) <= 40 else first[:37] + "...")


# The catalog.
def read_catalog(path: Path):
    """The catalog at path (a babel Catalog)."""
    try:
        from babel.messages.pofile import PoFileError, read_po
    except ImportError:
        raise TranslationError(
            _("Babel is not installed, so the translations cannot be read (pip install babel)")
        ) from None
    if not path.is_file():
        raise TranslationError(
            _("{path} does not exist: no translations of this notebook").format(path=path)
        )
    try:
        with path.open("rb") as file:
            return read_po(file, abort_invalid=True)
    except (PoFileError, ValueError, UnicodeDecodeError) as error:
        raise TranslationError(
            _("{path} is not a readable .po catalog: {error}").format(path=path, error=error)
        ) from None


def translated(catalog, english: str, edition: str) -> str | None:
    """The translation of one cell's English text; None when there is none that may be
    used (absent, empty, fuzzy, or without a letter of the edition's script)."""
    message = catalog.get(english)
    if message is None or not message.string or message.fuzzy:
        return None
    text = message.string
    return text if SCRIPT[edition].search(text) else None


def problems(notebook: dict, catalog, edition: str, name: str | None = None) -> list[str]:
    """What keeps the edition of notebook from being generated: one line per cell."""
    name = name or _("the notebook")
    found = []
    for index, english in markdown_cells(notebook):
        message = catalog.get(english)
        where = _("{notebook}, markdown cell {index} ({excerpt})").format(
            notebook=name, index=index, excerpt=_excerpt(english)
        )
        if message is None:
            text = _("{where} has no translation (its English text is new or changed)")
        elif not message.string:
            text = _("{where} has an empty translation")
        elif message.fuzzy:
            text = _("{where}: its translation is fuzzy (stale), revise it and drop the flag")
        elif not SCRIPT[edition].search(message.string):
            text = _("{where}: its translation holds no {locale} text")
        else:
            continue
        found.append(text.format(where=where, locale=LOCALES[edition]))
    return found


def _no_check_import(name: str) -> TranslationError:
    return TranslationError(
        _("no code cell of {notebook} has the line {line}").format(
            notebook=name, line=repr(CHECK_IMPORT)
        )
    )


def with_language(source: str, edition: str) -> str:
    """The source of the cell that imports check, telling the checks the language."""
    lines = source.split("\n")
    if CHECK_IMPORT not in lines:
        raise _no_check_import(_("the notebook"))
    at = lines.index(CHECK_IMPORT)
    start, end = at, at
    while start > 0 and lines[start - 1].startswith("from initlab"):
        start -= 1
    while end + 1 < len(lines) and lines[end + 1].startswith("from initlab"):
        end += 1
    # In the order of the imports around it, then the call after them.
    position = next((i for i in range(start, end + 1) if lines[i] > LANGUAGE_IMPORT), end + 1)
    lines.insert(position, LANGUAGE_IMPORT)
    end += 1
    lines[end + 1 : end + 1] = ["", f'set_language("{edition}")  # {LANGUAGE_COMMENT[edition]}']
    return "\n".join(lines)


def translate(notebook: dict, catalog, edition: str, name: str | None = None) -> dict:
    """The edition of notebook: its markdown translated, the cell that imports check
    telling the checks the language, everything else the same (a new dict)."""
    if edition not in SCRIPT:
        raise TranslationError(
            _("no edition {edition}; the editions are {editions}").format(
                edition=repr(edition), editions=", ".join(EDITIONS)
            )
        )
    name = name or _("the notebook")
    found = problems(notebook, catalog, edition, name)
    if found:
        more = _(" (and {count} more)").format(count=len(found) - 3) if len(found) > 3 else ""
        raise TranslationError(
            _("{count} cell(s) cannot be translated: {problems}").format(
                count=len(found), problems="; ".join(found[:3])
            )
            + more
        )
    out = copy.deepcopy(notebook)
    # The edition's language, for what shows the notebook (its nbgrader feedback page).
    out.setdefault("metadata", {})["initlab"] = {"language": edition}
    told = False
    for index, cell in enumerate(out.get("cells", [])):
        if "id" not in cell:
            # A stable id: nbgrader would draw a random one at every release.
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            kind = "text" if cell.get("cell_type") == "markdown" else "cell"
            cell["id"] = grade_id or f"{kind}-{index:02d}"
        text = cell_text(cell)
        if cell.get("cell_type") == "markdown" and text.strip():
            cell["source"] = _lines(translated(catalog, text, edition))
        elif cell.get("cell_type") == "code" and CHECK_IMPORT in text.split("\n") and not told:
            cell["source"] = _lines(with_language(text, edition))
            told = True
    if not told:
        raise _no_check_import(name)
    return out


def update_catalog(path: Path, notebook: dict, assignment, edition: str) -> dict[str, int]:
    """Bring the catalog at path up to the English notebook: a new cell gets an empty
    entry, a changed one its old translation marked fuzzy, a removed one is dropped;
    the counts of each ("new", "fuzzy", "dropped") and of cells left to translate."""
    from babel.messages.catalog import Catalog

    cells = markdown_cells(notebook)
    template = Catalog(fuzzy=False)
    for index, english in cells:
        # The location: the notebook and the cell's number, counted from 1.
        template.add(english, locations=[(assignment.notebook, index + 1)])
    if path.is_file():
        catalog = read_catalog(path)
    else:
        catalog = Catalog(locale=LOCALES[edition], project="initlab", fuzzy=False)
    before = {m.id for m in catalog if m.id}
    catalog.update(template, update_header_comment=False, update_creation_date=False)
    catalog.obsolete.clear()  # a removed cell's text is in git's history, not here
    for message in catalog:
        if not message.id:
            continue
        # A fuzzy translation shows the English it was made from, for the translator to
        # compare (in comments: Babel does not read its own #| msgid lines back).
        comments = [c for c in message.user_comments if not c.startswith(PREVIOUS)]
        if message.fuzzy and message.previous_id:
            old = message.previous_id
            old = old[0] if isinstance(old, (list, tuple)) else old
            comments += [f"{PREVIOUS} {line}".rstrip() for line in old.split("\n")]
        message.user_comments = comments
    catalog.header_comment = "\n".join(
        "# " + line
        for line in HEADER.format(
            notebook=assignment.notebook,
            assignment=assignment.name,
            locale=LOCALES[edition],
            edition=edition,
        ).splitlines()
    )
    catalog.fuzzy = False
    # The header as the message catalog's: the file changes only when its texts do.
    from initlab._catalogs import CREATED

    catalog.project, catalog.version = "initlab", "notebooks"
    catalog.creation_date = catalog.revision_date = CREATED
    catalog.last_translator, catalog.language_team = "initlab developers", "initlab"
    catalog.msgid_bugs_address = ""
    counts = {
        "new": sum(1 for m in catalog if m.id and m.id not in before and not m.fuzzy),
        "fuzzy": sum(1 for m in catalog if m.id and m.fuzzy),
        "dropped": len(before - {m.id for m in catalog if m.id}),
    }
    counts["to translate"] = len(problems(notebook, catalog, edition))
    write_catalog(path, catalog)
    return counts


def write_catalog(path: Path, catalog) -> None:
    """The catalog written to path whole (each line of a text its own line of the file)."""
    from babel.messages.pofile import write_po

    path.parent.mkdir(parents=True, exist_ok=True)
    out = io.BytesIO()
    write_po(out, catalog, width=0, sort_output=False)
    partial = path.with_suffix(".po.part")
    partial.write_bytes(out.getvalue())
    partial.replace(path)


# The glossary: one word for one thing in every translation.
@dataclass(frozen=True)
class Term:
    english: str  # as the glossary shows it
    translation: str  # the word every translation uses
    pattern: re.Pattern  # where the English text says it
    avoid: tuple[str, ...]  # other words for it that no translation uses
    note: str


def read_glossary(path: Path) -> list[Term]:
    """The glossary, a CSV of english, zh, match (a regular expression for the English
    text, case-insensitive; default: the English words), avoid (words separated by
    |), note."""
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    terms = []
    for row in rows:
        english = row["english"].strip()
        match = (row.get("match") or "").strip() or r"\b" + re.escape(english) + r"\b"
        avoid = tuple(w.strip() for w in (row.get("avoid") or "").split("|") if w.strip())
        terms.append(
            Term(
                english,
                row["zh"].strip(),
                re.compile(match, re.IGNORECASE),
                avoid,
                (row.get("note") or "").strip(),
            )
        )
    return terms


def glossary_problems(english: str, translation: str, terms: list[Term]) -> list[str]:
    """Where a translation departs from the glossary: a term of the English text
    without its word, or a word the glossary avoids."""
    found = []
    for term in terms:
        if term.pattern.search(english) and term.translation.lower() not in translation.lower():
            found.append(
                f"the English says {term.english!r}, the translation lacks {term.translation!r}"
            )
        for word in term.avoid:
            if word in translation:
                found.append(
                    f"{word!r} is used for {term.english!r}: the glossary says {term.translation!r}"
                )
    return found


# What a translation keeps as the English has it: maths, code and numbers.
MATHS = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$", re.DOTALL)
CODE = re.compile(r"`[^`\n]+`")
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def kept_problems(english: str, translation: str) -> list[str]:
    """The maths, code spans and numbers of the English text that the translation does
    not have as they are."""
    found = []
    for kind, pattern in (("maths", MATHS), ("code", CODE)):
        theirs = pattern.findall(translation)
        for piece in pattern.findall(english):
            if piece in theirs:
                theirs.remove(piece)
            else:
                found.append(f"the {kind} {piece!r} is not in the translation as it is")
    numbers = set(NUMBER.findall(translation))
    for number in sorted(set(NUMBER.findall(english)) - numbers):
        found.append(f"the number {number} is not in the translation")
    return found
