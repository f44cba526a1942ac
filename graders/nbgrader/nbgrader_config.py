"""nbgrader settings of the initlab course: run nbgrader commands in this folder."""

c = get_config()  # noqa: F821 - nbgrader defines get_config when it reads this file

c.CourseDirectory.course_id = "initlab"
# Seconds a cell may run. A check ends the student's function after 10 s (it
# scores 0 and the cell goes on); this stops a cell that loops at top level.
c.ExecutePreprocessor.timeout = 60
# Students are added to the gradebook when their first submission is autograded.
c.Autograde.create_student = True
