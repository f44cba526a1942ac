"""What initlab's nbgrader course adds to nbgrader: its configuration imports this.

``HiddenTestsOverwriteCells``: nbgrader records a test cell's checksum before it
clears the cell's hidden tests, so autograding even the untouched release
warns that every such cell "has changed" (nbgrader issue 1961). A locked cell
whose source is exactly the source cell without its hidden tests has not
changed; it gets the source cell back before nbgrader's own check, which then
warns only about cells a student really edited.
"""

from __future__ import annotations

from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, OverwriteCells
from nbgrader.utils import is_locked


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
