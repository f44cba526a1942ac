"""The translation template: every English text initlab shows, as gettext entries.

Two kinds of text go into ``locale/initlab.pot``:

- the messages of ``initlab.messages``' catalog (the diagnoses, the loader's and the
  runner's messages), each with its message id as the gettext context and its
  English template as the msgid, so that a changed English template needs a new
  translation;
- the strings of the code wrapped in ``_("...")``, ``N_("...")`` or
  ``p_("context", "...")`` (the command line, the tables, the self-check, the demo).

``python -m initlab._catalogs`` rewrites the template and merges it into every
``.po`` file (with Babel): a new or changed text gets an empty translation, and
tests/test_i18n.py fails until each is translated.
"""

from __future__ import annotations

import ast
import datetime
import sys
from pathlib import Path

from initlab import i18n

SRC = Path(__file__).resolve().parent
CREATED = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)
KEYWORDS = {"_": 1, "N_": 1, "p_": 2, "figure_text": 1}


def catalog_messages() -> dict[str, str]:
    """Every message id of the catalog with its English template (every assignment's too)."""
    from initlab import assignments
    from initlab.messages import CATALOG

    for name in assignments.names():
        assignments.get(name)
    return dict(sorted(CATALOG.items()))


def code_strings() -> dict[tuple[str | None, str], list[str]]:
    """(context, English) of every _(), N_() and p_() call with literal text in the
    package's code, with where each is."""
    found: dict[tuple[str | None, str], list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            count = KEYWORDS.get(name)
            if count is None or len(node.args) != count:
                continue
            literals = [a.value for a in node.args if isinstance(a, ast.Constant)]
            if len(literals) != count or not all(isinstance(v, str) for v in literals):
                continue
            key = (literals[0], literals[1]) if count == 2 else (None, literals[0])
            where = f"{path.relative_to(SRC.parent).as_posix()}:{node.lineno}"
            found.setdefault(key, []).append(where)
    for word in i18n._STATUS_WORDS:
        found.setdefault(("status", word), []).append("initlab/i18n.py")
    return found


def entries() -> list[tuple[str | None, str, list[str]]]:
    """(context, msgid, locations) of every text to translate."""
    listed = [(key, english, ["initlab/messages"]) for key, english in catalog_messages().items()]
    listed += [(context, english, where) for (context, english), where in code_strings().items()]
    return listed


def template():
    """The template as a Babel catalog."""
    from babel.messages.catalog import Catalog

    # A fixed date: the files change only when their texts do.
    catalog = Catalog(
        project="initlab",
        domain=i18n.DOMAIN,
        charset="utf-8",
        creation_date=CREATED,
        revision_date=CREATED,
    )
    catalog.header_comment = "# The English texts of initlab, to translate.\n#"
    for context, english, where in entries():
        locations = [(w.rsplit(":", 1)[0], int(w.rsplit(":", 1)[1]) if ":" in w else None)
                     for w in where]  # fmt: skip
        catalog.add(english, context=context, locations=locations, flags=_flags(english))
    return catalog


def _flags(english: str) -> tuple[str, ...]:
    return ("python-brace-format",) if "{" in english else ()


def update(localedir: Path = i18n.LOCALEDIR) -> list[Path]:
    """Rewrite the template and merge it into every language's .po; the files written."""
    from babel.messages.pofile import read_po, write_po

    pot = template()
    written = [localedir / f"{i18n.DOMAIN}.pot"]
    with written[0].open("wb") as file:
        write_po(file, pot, omit_header=False, width=100, no_location=True)
    for lang, locale in i18n.LOCALES.items():
        po = i18n.catalog_path(lang, ".po", localedir)
        if po.is_file():
            with po.open("rb") as file:
                catalog = read_po(file, locale=locale)
        else:
            from babel.messages.catalog import Catalog

            po.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=locale, domain=i18n.DOMAIN, project="initlab")
        catalog.update(pot, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.revision_date = CREATED
        with po.open("wb") as file:
            write_po(file, catalog, width=100, no_location=True, sort_output=False)
        written.append(po)
    return written


if __name__ == "__main__":
    for path in update():
        print(f"wrote {path}")
    sys.exit(0)
