"""Student text as text: what a submission wrote (an exception message, a type name,
a file or folder name) shown on a terminal, in a CSV or in a results.json file
can neither move the cursor, clear the screen, set the clipboard, nor be read as
rich markup or a spreadsheet formula."""

from __future__ import annotations

import re

# Terminal escape sequences whole (CSI ``ESC [ ... final``, OSC ``ESC ] ... BEL or ESC \``
# such as the clipboard's OSC 52, and the other ``ESC x`` pairs), then any other control
# character: C0, DEL, C1, and the bidirectional overrides that reorder what is shown.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[ -~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("[\t\n]")
# A cell a spreadsheet would read as a formula; a tab or CR before one is a space or
# nothing by then, and leading spaces do not stop it either.
_FORMULA_START = ("=", "+", "-", "@")


def plain(text: str, one_line: bool = True) -> str:
    """text without escape sequences or control characters; one_line: tabs and line
    breaks become spaces too (a line of a table or a summary)."""
    text = _CONTROLS.sub("", _ESCAPES.sub("", str(text)))
    return _LINE_BREAKS.sub(" ", text) if one_line else text


def cell(text: str) -> str:
    """A CSV cell: plain text, with a leading apostrophe when a spreadsheet would
    otherwise run it as a formula (``=HYPERLINK(...)``, ``+1+cmd|...``, ``@SUM(...)``)."""
    text = plain(text)
    return "'" + text if text.lstrip().startswith(_FORMULA_START) else text
