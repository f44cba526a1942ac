"""What initlab's nbgrader course adds to nbgrader: its configuration imports this.

``HiddenTestsOverwriteCells``: nbgrader records a test cell's checksum before it
clears the cell's hidden tests, so autograding even the untouched release
warns that every such cell "has changed" (nbgrader issue 1961). A locked cell
whose source is exactly the source cell without its hidden tests has not
changed; it gets the source cell back before nbgrader's own check, which then
warns only about cells a student really edited.

``configure_feedback``: the feedback page shows its maths offline (``MathML``),
wraps long lines, and its index names the function each test cell checks.
"""

from __future__ import annotations

import re
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, OverwriteCells
from nbgrader.utils import is_locked
from traitlets import Bool

from initlab.i18n import N_


class HiddenTestsOverwriteCells(OverwriteCells):
    """OverwriteCells that knows a released test cell lacks its hidden tests."""

    def preprocess_cell(self, cell, resources, cell_index):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None and is_locked(cell):
            try:
                source = self.gradebook.find_source_cell(
                    grade_id, self.notebook_id, self.assignment_id
                )
            except MissingEntry:
                source = None
            if source is not None and source.locked and cell.source == _released(source):
                cell.source = source.source
        return super().preprocess_cell(cell, resources, cell_index)


def _released(source_cell) -> str:
    """The source cell as the release shows it: without its hidden tests."""
    from nbformat.v4 import new_code_cell

    cell = new_code_cell(source_cell.source)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": source_cell.name, "locked": True}
    cleared, _ = ClearHiddenTests().preprocess_cell(cell, {}, 0)
    return cleared.source


# --- the feedback page -------------------------------------------------------------

TEMPLATES = Path(__file__).parent / "templates"
_FENCE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)
_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE = re.compile(r"(?<![\\$\w])\$(?=\S)([^$\n]+?)(?<=\S)\$(?![\w$])")
_FUNCTION = re.compile(r"(<mi>(?:log|ln|exp|max|min|sin|cos|tan|tanh)</mi>)")
# Characters that Markdown would read inside the MathML's text: written as entities.
_MARKDOWN = str.maketrans({"*": "&#x2A;", "_": "&#x5F;", "[": "&#x5B;", "]": "&#x5D;",
                           "\\": "&#x5C;", "`": "&#x60;", "$": "&#x24;"})  # fmt: skip


class MathML(Preprocessor):
    """Markdown cells' $...$ and $$...$$ as MathML, which browsers render themselves:
    the feedback page shows its maths without loading MathJax from the network. A
    formula latex2mathml cannot read stays as its LaTeX source."""

    enabled = Bool(True)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "markdown":
            cell.source = math_to_mathml(cell.source)
        return cell, resources


def math_to_mathml(markdown: str) -> str:
    """markdown with the maths outside code spans and fences replaced by MathML."""
    parts = _FENCE.split(markdown)
    for index in range(0, len(parts), 2):  # the even parts are outside code
        text = _DISPLAY.sub(lambda found: _mathml(found, "block"), parts[index])
        parts[index] = _INLINE.sub(lambda found: _mathml(found, "inline"), text)
    return "".join(parts)


def _mathml(found: re.Match, display: str) -> str:
    from latex2mathml.converter import convert

    try:
        written = convert(found.group(1).strip(), display=display)
    except Exception:  # latex2mathml raises many kinds; the LaTeX then stays as it was
        return found.group(0)
    written = _FUNCTION.sub(r'\1<mspace width="0.167em"/>', written)  # log x, not logx
    return re.sub(r">([^<]+)<", lambda text: ">" + text.group(1).translate(_MARKDOWN) + "<",
                  written)  # fmt: skip


# The feedback page's own words (the template shows resources["initlab_words"]).
FEEDBACK_WORDS = {
    "score": N_("Score"),
    "checks": N_("Checks of {name}"),  # the template puts the function's name at {name}
    "coding": N_("Coding free-response"),
    "written": N_("Written response"),
    "task": N_("Task"),
    "comment": N_("Comment"),
    "comments": N_("Comments:"),
    "late": N_("Late submission penalty"),
    "top": N_("(Top)"),
    "answer": N_("Student's answer"),
    "student_task": N_("Student's task"),
    "grade_cell": N_("Grade cell:"),
}


def notebook_language(nb) -> str | None:
    """The language an edition of the course's notebooks is in (its metadata's
    initlab.language, written by initlab.translation); None for the English one."""
    meta = nb.get("metadata", {}).get("initlab", {})
    return meta.get("language") if isinstance(meta, dict) else None


class FeedbackWords(Preprocessor):
    """The feedback page's words in the notebook's language."""

    enabled = Bool(True)

    def preprocess(self, nb, resources):
        from initlab.i18n import LANGUAGES, _, speaking

        lang = notebook_language(nb)
        with speaking(lang if lang in LANGUAGES else "en"):
            words = {key: _(english) for key, english in FEEDBACK_WORDS.items()}
        before, _name, after = words.pop("checks").partition("{name}")
        words["checks_before"], words["checks_after"] = before, after
        resources["initlab_words"] = words
        return nb, resources


def configure_feedback(c) -> None:
    """Point nbgrader generate_feedback at initlab's page (see templates/initlab_feedback)."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    c.GenerateFeedback.preprocessors = [
        GetGrades,
        CSSHTMLHeaderPreprocessor,
        MathML,
        FeedbackWords,
    ]
    c.HTMLExporter.template_name = "initlab_feedback"
    c.HTMLExporter.extra_template_basedirs = [str(TEMPLATES)]
