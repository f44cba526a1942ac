"""nbgrader autograde of the course notebook against nbgrader's own floor.

Both measured in this run, on this machine: ``nbgrader autograde`` of N
submissions of the Initialization notebook (the released notebook with the
solutions typed in), and the same command on N submissions of a trivial
one-cell notebook with one test cell. The difference per submission is what
our notebook costs on top of nbgrader itself (kernel start, execution of
every cell, gradebook writes). While nbgrader autogrades it
(NBGRADER_EXECUTION) the notebook draws each training run as a light SVG figure
for the feedback page (initlab.feedback); two more courses, whose notebooks
draw no figure at all or their matplotlib figures anyway, show what the SVG
figures cost and what matplotlib would. Rounds alternate
between the courses, and the best round of each is kept (the machine is shared).

    python benchmarks/bench_nbgrader.py [--submissions N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from initlab.release import NBGRADER_OUTPUT, function_source, without_fences

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "graders" / "nbgrader"
SOLUTIONS = ROOT / "graders" / "solutions" / "initialization"
ASSIGNMENT, NOTEBOOK = "initialization", "Initialization"
FLOOR_SECONDS = 1.5  # the most our notebook may add per submission


def nbgrader(course: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"nbgrader {' '.join(args)} failed:\n{done.stderr[-2000:]}")


def solved(release: dict) -> dict:
    notebook = json.loads(json.dumps(release))
    for cell in notebook["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            name = meta["grade_id"]
            module = "initialization" if name.startswith("initialize") else "propagation"
            source = function_source((SOLUTIONS / f"{module}.py").read_text(), name)
            cell["source"] = without_fences(source)
    return notebook


def trivial_course(folder: Path) -> Path:
    """A course whose notebook is one test cell worth one point."""
    course = folder / "trivial"
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(COURSE / "nbgrader_config.py", course)
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": "test_trivial",
        "metadata": {
            "nbgrader": {
                "grade": True,
                "grade_id": "test_trivial",
                "locked": True,
                "points": 1,
                "schema_version": 3,
                "solution": False,
                "task": False,
            }
        },
        "outputs": [],
        "source": "assert 1 + 1 == 2",
    }
    notebook = {
        "cells": [cell],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (course / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").write_text(json.dumps(notebook))
    return course


def prepare(course: Path, submissions: int, fill) -> None:
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    release = json.loads((course / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_text())
    notebook = json.dumps(fill(release))
    for i in range(submissions):
        folder = course / "submitted" / f"student{i:03d}" / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / f"{NOTEBOOK}.ipynb").write_text(notebook)


def autograde(course: Path) -> float:
    """Seconds for one autograde of every submission, from scratch."""
    shutil.rmtree(course / "autograded", ignore_errors=True)
    start = time.perf_counter()
    nbgrader(course, "autograde", ASSIGNMENT, "--force")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="initlab-bench-nbgrader-") as work:
        courses = {"floor": trivial_course(Path(work))}
        prepare(courses["floor"], args.submissions, lambda release: release)
        for name in ("ours", "no figures", "with figures"):
            course = Path(work) / name.replace(" ", "-")
            shutil.copytree(COURSE, course, ignore=shutil.ignore_patterns(*NBGRADER_OUTPUT))
            notebook = course / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
            if name == "with figures":
                always_draw(notebook)
            if name == "no figures":
                never_draw(notebook)
            prepare(course, args.submissions, solved)
            courses[name] = course
        times = {name: [] for name in courses}
        for _ in range(args.rounds):
            for name, course in courses.items():
                times[name].append(autograde(course))
    n = args.submissions
    per = {k: min(v) / n for k, v in times.items()}
    print(f"nbgrader autograde, {n} submissions, best of {args.rounds} alternating rounds")
    print(f"  {'trivial one-cell notebook (floor)':<40}{per['floor']:6.2f} s per submission")
    for name, label in [
        ("ours", "Initialization notebook (SVG figures)"),
        ("no figures", "  drawing no figures"),
        ("with figures", "  drawing with matplotlib instead"),
    ]:
        extra = per[name] - per["floor"]
        verdict = "met" if extra <= FLOOR_SECONDS else "NOT met"
        limit = f" (limit {FLOOR_SECONDS} s: {verdict})" if name == "ours" else ""
        print(f"  {label:<40}{per[name]:6.2f} s per submission, {extra:5.2f} s above{limit}")
    rounds = ", ".join(f"{k} {[round(t, 1) for t in v]}" for k, v in times.items())
    print(f"  every round, seconds for {n} submissions: {rounds}")


def never_draw(notebook: Path) -> None:
    """Make the course notebook draw no figure at all while it is autograded."""
    text = notebook.read_text()
    figure = "display(feedback.training_figure(name, costs, parameters, train_X, train_Y))"
    if figure not in text:
        sys.exit(f"{notebook} no longer draws the feedback figure")
    notebook.write_text(text.replace(figure, "pass"))


def always_draw(notebook: Path) -> None:
    """Make the course notebook draw its figures while it is autograded too."""
    text = notebook.read_text()
    switch = 'DRAW = os.environ.get(\\"NBGRADER_EXECUTION\\") != \\"autograde\\"'
    if switch not in text:
        sys.exit(f"{notebook} no longer sets DRAW from NBGRADER_EXECUTION")
    notebook.write_text(text.replace(switch, "DRAW = True"))


if __name__ == "__main__":
    main()
