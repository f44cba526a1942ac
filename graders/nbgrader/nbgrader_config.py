"""nbgrader settings of the initlab course: run nbgrader commands in this folder."""

c = get_config()  # noqa: F821 - nbgrader defines get_config when it reads this file

c.CourseDirectory.course_id = "initlab"
# Seconds a cell may run. A check ends the student's function after 10 s (it
# scores 0 and the cell goes on); this stops a cell that loops at top level.
c.ExecutePreprocessor.timeout = 60
# Students are added to the gradebook when their first submission is autograded.
c.Autograde.create_student = True

# nbgrader warns that every test cell with hidden tests "has changed", even in the
# untouched release (its checksum is taken before the hidden tests are cleared):
# this OverwriteCells knows the release's form of such a cell, and so warns only
# about cells a student edited. nbgrader's own database code warns too (SQLAlchemy
# autoflush notices that are not the instructor's concern).
import warnings  # noqa: E402

from nbgrader.preprocessors import (  # noqa: E402
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
)
from sqlalchemy.exc import SAWarning  # noqa: E402

from initlab.nbgrader_support import HiddenTestsOverwriteCells  # noqa: E402

warnings.filterwarnings("ignore", category=SAWarning)
# nbgrader 0.9's list (Autograde.sanitize_preprocessors), with its OverwriteCells replaced.
c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    HiddenTestsOverwriteCells,
    CheckCellMetadata,
]

# The feedback page: maths as MathML (readable offline), long lines wrapped, and an
# index that names each test cell's function.
from initlab.nbgrader_support import configure_feedback  # noqa: E402

configure_feedback(c)
