"""Student stubs from the solution sources: nbgrader's ``### BEGIN SOLUTION`` convention.

The solutions are written once, in ``graders/solutions/<assignment>/``; every fenced block
becomes ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` at the fence's
indentation, as nbgrader's ``ClearSolutions`` does.
"""

from __future__ import annotations

from pathlib import Path

from initlab.i18n import _

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")


class ReleaseError(ValueError):
    """A solution source whose fences do not pair up."""


def strip_solutions(source: str, name: str = "<source>") -> str:
    """The source with every fenced solution replaced by the stub."""
    out = []
    begin_line = None
    for number, line in enumerate(source.splitlines(), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if begin_line is not None:
                raise ReleaseError(
                    _("{where}: {begin} inside the block opened at line {line}").format(
                        where=f"{name}:{number}", begin=BEGIN, line=begin_line
                    )
                )
            begin_line = number
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + stub for stub in STUB)
        elif marker == END:
            if begin_line is None:
                raise ReleaseError(
                    _("{where}: {end} without a {begin} before it").format(
                        where=f"{name}:{number}", end=END, begin=BEGIN
                    )
                )
            begin_line = None
        elif begin_line is None:
            out.append(line)
    if begin_line is not None:
        raise ReleaseError(
            _("{where}: {begin} is never closed by {end}").format(
                where=f"{name}:{begin_line}", begin=BEGIN, end=END
            )
        )
    return "\n".join(out) + "\n"


def without_fences(source: str) -> str:
    """The source with its fence lines dropped: the solution as a student types it."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in (BEGIN, END))


def solution_lines(source: str) -> list[str]:
    """The lines inside the fences, stripped: what must never reach a student."""
    lines, inside = [], False
    for line in source.splitlines():
        marker = line.strip()
        if marker in (BEGIN, END):
            inside = marker == BEGIN
        elif inside and marker:
            lines.append(marker)
    return lines


def release(source_dir: Path, out_dir: Path, force: bool = False) -> list[Path]:
    """Write the stub of every ``*.py`` of source_dir into out_dir; the paths written.

    An existing file is replaced only with ``force``: out_dir may hold someone's work.
    """
    sources = sorted(source_dir.glob("*.py"))
    if not sources:
        raise ReleaseError(_("{path} has no .py solution sources").format(path=source_dir))
    if out_dir.resolve() == source_dir.resolve():
        raise ReleaseError(
            _("{path} is the solution folder itself; choose another folder").format(path=out_dir)
        )
    stubs = {source.name: strip_solutions(source.read_text(), str(source)) for source in sources}
    existing = [name for name in stubs if (out_dir / name).exists()]
    if existing and not force:
        raise ReleaseError(
            _(
                "{path} already has {names}; pass --force to replace "
                "(they are overwritten with the stubs)"
            ).format(path=out_dir, names=", ".join(existing))
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, stub in stubs.items():
        (out_dir / name).write_text(stub)
        written.append(out_dir / name)
    return written


# The course notebook (nbgrader). Its solution cells hold the functions of the
# solution sources, its test cells call the check library: both are written here,
# from graders/solutions/<assignment>/ and the rubric, into the cells whose metadata
# names them ({"initlab": {"solution": name}} or {"initlab": {"tests": name}}). Every
# other cell is the notebook's own text, edited in Jupyter.
# What nbgrader writes into a course folder; left out when the course is copied.
NBGRADER_OUTPUT = ("gradebook.db", "release", "submitted", "autograded", "feedback", "*.log")
TEST_CELL = """\
# Checks {name}: {points} points.
hidden_tests = False
### BEGIN HIDDEN TESTS
hidden_tests = True  # the instructors' networks (deep, wide, random sizes), drawn when grading
### END HIDDEN TESTS
check("{name}", globals(), hidden=hidden_tests{assignment})"""


def function_source(source: str, name: str, filename: str = "<source>") -> str:
    """The text of the top-level ``def name`` of a module's source."""
    import ast

    for node in ast.parse(source, filename).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            lines = source.splitlines()[node.lineno - 1 : node.end_lineno]
            return "\n".join(lines)
    raise ReleaseError(_("{file} defines no function {name}").format(file=filename, name=name))


def _nbgrader(grade_id: str, *, solution: bool, points: float | None = None) -> dict:
    meta = {
        "grade": points is not None,
        "grade_id": grade_id,
        "locked": not solution,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    return meta


def sync_notebook(notebook: dict, solutions_dir: Path, assignment=None) -> dict:
    """The notebook with its solution and test cells rewritten from the solution
    sources and the assignment's full rubric (a new dict; the notebook passed in is
    not changed)."""
    import copy

    from initlab import assignments

    assignment = assignment or assignments.get()
    rubric = assignment.points()
    synced = copy.deepcopy(notebook)
    for cell in synced.get("cells", []):
        role = cell.get("metadata", {}).get("initlab", {})
        name = role.get("solution") or role.get("tests")
        if name is None:
            continue
        if name not in rubric:
            raise ReleaseError(
                _("a notebook cell names {name}, which is not a graded function").format(
                    name=repr(name)
                )
            )
        if "solution" in role:
            path = solutions_dir / f"{assignment.module_of(name)}.py"
            cell["source"] = function_source(path.read_text(), name, str(path))
            cell["metadata"]["nbgrader"] = _nbgrader(name, solution=True)
        else:
            which = (
                ""
                if assignment.name == assignments.DEFAULT
                else f', assignment="{assignment.name}"'
            )
            cell["source"] = TEST_CELL.format(name=name, points=rubric[name], assignment=which)
            cell["metadata"]["nbgrader"] = _nbgrader(
                f"test_{name}", solution=False, points=rubric[name]
            )
        cell["outputs"], cell["execution_count"] = [], None
    return synced


def read_notebook(path: Path) -> dict:
    import json

    return json.loads(path.read_text(encoding="utf-8"))


def notebook_text(notebook: dict) -> str:
    """The notebook as Jupyter writes it (nbformat's JSON layout)."""
    import json

    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def release_notebook(
    course_dir: Path,
    out_dir: Path,
    force: bool = False,
    assignment=None,
    course_name: str | None = None,
) -> Path:
    """Run ``nbgrader generate_assignment`` on a copy of the course and write the
    student notebook into out_dir; the path written. course_name is the nbgrader
    assignment (default: the assignment's name; an edition's is ``<name>_<lang>``)."""
    import shutil
    import subprocess
    import sys
    import tempfile

    from initlab import assignments

    assignment = assignment or assignments.get()
    course_name = course_name or assignment.name
    target = out_dir / assignment.notebook
    if target.exists() and not force:
        raise ReleaseError(_("{path} exists; pass --force to replace it").format(path=target))
    with tempfile.TemporaryDirectory(prefix="initlab-release-") as work:
        course = Path(work) / "course"
        shutil.copytree(course_dir, course, ignore=shutil.ignore_patterns(*NBGRADER_OUTPUT))
        done = subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", course_name, "--force"],
            cwd=course,
            capture_output=True,
            text=True,
        )
        released = course / "release" / course_name / assignment.notebook
        if done.returncode != 0 or not released.exists():
            last = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise ReleaseError(
                _("nbgrader generate_assignment failed: {why}").format(why=" | ".join(last))
            )
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(released, target)
    return target
