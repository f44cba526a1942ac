"""The ``initlab`` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _positive(kind: type) -> object:
    """An argparse type: a number of the given kind, greater than zero."""
    name = "integer" if kind is int else "number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {name}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive {name}, got {text}")
        return value

    return parse


def _assignment_option(parser: argparse.ArgumentParser) -> None:
    from initlab import assignments

    parser.add_argument(
        "--assignment",
        default=assignments.DEFAULT,
        choices=assignments.names(),
        metavar="NAME",
        help=f"the assignment (default: {assignments.DEFAULT}; one of "
        f"{', '.join(assignments.names())})",
    )


def _rubric_option(parser: argparse.ArgumentParser) -> None:
    from initlab import assignments

    rubrics = {
        name: text
        for assignment in map(assignments.get, assignments.names())
        for name, text in assignment.rubric_help.items()
    }
    parser.add_argument(
        "--rubric",
        metavar="NAME",
        help="the rubric: "
        + "; ".join(f"{name}: {text}" for name, text in rubrics.items())
        + " (default: full)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="initlab", description="The 'Initialization' deep-learning assignment."
    )
    from initlab import __version__

    parser.add_argument("--version", action="version", version=f"initlab {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="train the course model with zeros, random, Xavier and He initialization",
        description="Train [2, 10, 5, 1] on the circles data with each initialization, "
        "print the cost traces and the results table, and save the plots; "
        "`initlab demo planar`: the second exercise's models and hidden-size experiment.",
    )
    from initlab import assignments

    demo.add_argument(
        "exercise",
        nargs="?",
        default=assignments.DEFAULT,
        choices=assignments.names(),
        metavar="EXERCISE",
        help=f"whose demo (default: {assignments.DEFAULT}; one of "
        f"{', '.join(assignments.names())})",
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("initlab-demo"),
        metavar="DIR",
        help="folder for cost_curves.png and decision_boundaries.png (default: initlab-demo)",
    )
    demo.add_argument(
        "--iterations",
        type=_positive(int),
        metavar="N",
        help="gradient-descent iterations (default: the course's, 15000 or 10000 for planar)",
    )
    grade = commands.add_parser(
        "grade",
        help="grade one submission (a folder, a .py file or a notebook), or a whole class",
        description="Run the student's functions in a sandboxed process and grade what they "
        "return. Exit status 0 whenever grading ran, 2 when PATH cannot be graded. With --db, "
        "PATH is a folder of submissions (<student_id>/, or nbgrader's "
        "submitted/<student_id>/<assignment>/) graded into a SQLite ledger; rerunning grades "
        "only what is missing or changed.",
    )
    grade.add_argument(
        "path",
        type=Path,
        metavar="PATH",
        help="the submission, or with --db the folder of submissions",
    )
    _assignment_option(grade)
    _rubric_option(grade)
    grade.add_argument("--json", action="store_true", help="print one JSON object")
    grade.add_argument("--hidden", action="store_true", help="add the instructors' hidden checks")
    grade.add_argument(
        "--timeout",
        type=_positive(float),
        default=10.0,
        metavar="S",
        help="seconds each function may take for all its calls together (default: 10)",
    )
    grade.add_argument(
        "--memory",
        type=_positive(int),
        default=2048,
        metavar="MB",
        help="address space the student code may use (default: 2048)",
    )
    grade.add_argument(
        "--allow-unsandboxed",
        action="store_true",
        help="grade even where student code would run as root (no bubblewrap, and no other "
        "uid can run the interpreter); refused otherwise",
    )
    whole_class = grade.add_argument_group("a whole class (PATH is a folder of submissions)")
    whole_class.add_argument(
        "--db", type=Path, metavar="FILE", help="the SQLite ledger of grades (made if absent)"
    )
    whole_class.add_argument(
        "--workers",
        type=_positive(int),
        metavar="N",
        help="local grading processes (default: the number of CPUs)",
    )
    whole_class.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on the workers of a Dask cluster instead, e.g. tcp://host:8786",
    )
    whole_class.add_argument("--csv", type=Path, metavar="FILE", help="export the grades as CSV")
    whole_class.add_argument(
        "--gradescope",
        type=Path,
        metavar="DIR",
        help="export DIR/<student_id>/results.json in Gradescope's format",
    )
    whole_class.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --csv file or --gradescope DIR",
    )
    release = commands.add_parser(
        "release",
        help="write the student stubs generated from the solution sources",
        description="Replace every ### BEGIN SOLUTION ... ### END SOLUTION block of the "
        "assignment's solution sources by a NotImplementedError stub and write the result "
        "to OUTDIR (default: assignment/<assignment>).",
    )
    release.add_argument("out", type=Path, nargs="?", metavar="OUTDIR", help="folder for the stubs")
    _assignment_option(release)
    release.add_argument(
        "--source",
        type=Path,
        metavar="DIR",
        help="folder of the solution sources (default: graders/solutions/<assignment>)",
    )
    release.add_argument(
        "--course",
        type=Path,
        default=Path("graders/nbgrader"),
        metavar="DIR",
        help="the nbgrader course: its source notebook's solution and test cells are "
        "rewritten from the solution sources, and the student notebook released by "
        "nbgrader generate_assignment is written to OUTDIR (default: graders/nbgrader; "
        "skipped when the folder does not exist)",
    )
    release.add_argument("--force", action="store_true", help="replace existing files")
    _gradescope_parser(commands)
    _report_parser(commands)
    return parser


def _report_parser(commands) -> None:
    report = commands.add_parser(
        "report",
        help="write one HTML page about a class graded with --db: scores, functions, "
        "diagnoses, who needs a person, timings",
        description="Read the ledger of `initlab grade DIR --db FILE` (read-only) and write "
        "one self-contained HTML page (inline figures, no script, nothing loaded): the "
        "score distribution, each function's mean score and pass rate, the most frequent "
        "diagnoses with an example message, the submissions that need a person and why, "
        "and the grading times. One section per assignment and rubric the ledger holds "
        "(--assignment, --rubric: only those); a student graded more than once counts with "
        "the latest result. Exit status 0 when the page is written, 2 with a one-line "
        "reason otherwise.",
    )
    report.add_argument("ledger", type=Path, metavar="LEDGER", help="the SQLite ledger (--db)")
    report.add_argument(
        "--out",
        type=Path,
        default=Path("report.html"),
        metavar="FILE",
        help="the page to write (default: report.html); written whole or not at all",
    )
    report.add_argument(
        "--assignment", metavar="NAME", help="only this assignment (default: every one held)"
    )
    report.add_argument("--rubric", metavar="NAME", help="only this rubric (default: every one)")
    report.add_argument("--force", action="store_true", help="replace an existing --out file")


def _report(args: argparse.Namespace) -> int:
    from initlab import report

    return report.run(args)


def _gradescope_parser(commands) -> None:
    from initlab.gradescope import VISIBILITIES

    gradescope = commands.add_parser(
        "gradescope",
        help="build a Gradescope autograder (zip), or run it inside Gradescope's container",
        description="Gradescope's programming assignments: `autograder` builds the zip to "
        "upload; `run` is what the zip's run_autograder calls for every submission.",
    )
    steps = gradescope.add_subparsers(dest="step", required=True, metavar="STEP")
    autograder = steps.add_parser(
        "autograder",
        help="write the autograder zip to upload to Gradescope",
        description="Write OUT.zip: setup.sh and run_autograder at its root, initlab's "
        "source, its dependencies pinned to the versions installed here, and the grading "
        "options. Gradescope's image then grades /autograder/submission (a notebook, the "
        "modules, or both) in the sandbox, with the same points as `initlab grade`.",
    )
    autograder.add_argument("out", type=Path, metavar="OUT.zip", help="the zip to write")
    _assignment_option(autograder)
    _rubric_option(autograder)
    autograder.add_argument(
        "--hidden", action="store_true", help="grade with the hidden checks as well"
    )
    autograder.add_argument(
        "--visibility",
        choices=VISIBILITIES,
        help="when students see each test (default: visible; after_published with --hidden)",
    )
    autograder.add_argument(
        "--timeout", type=_positive(float), default=10.0, metavar="S",
        help="seconds each function has for all its calls (default 10)",
    )  # fmt: skip
    autograder.add_argument(
        "--memory", type=_positive(int), default=2048, metavar="MB",
        help="memory limit of the student's process (default 2048)",
    )  # fmt: skip
    autograder.add_argument(
        "--allow-unsandboxed",
        action="store_true",
        help="grade even where no sandbox and no other uid is available in the container "
        "(each Gradescope submission runs in a container of its own)",
    )
    autograder.add_argument(
        "--source",
        type=Path,
        metavar="DIR",
        help="the initlab project folder to take the sources from (default: the one this "
        "initlab was installed from, or the current folder)",
    )
    autograder.add_argument("--force", action="store_true", help="replace an existing OUT.zip")
    run = steps.add_parser(
        "run",
        help="grade a submission inside the autograder (run_autograder calls this)",
        description="Grade SUBMISSION with the options of CONFIG and write RESULTS/results.json.",
    )
    run.add_argument("config", type=Path, metavar="CONFIG", help="initlab-autograder.json")
    run.add_argument(
        "--submission", type=Path, default=Path("/autograder/submission"), metavar="DIR",
        help="default: /autograder/submission",
    )  # fmt: skip
    run.add_argument(
        "--results", type=Path, default=Path("/autograder/results"), metavar="DIR",
        help="default: /autograder/results",
    )  # fmt: skip


def _gradescope(args: argparse.Namespace) -> int:
    from initlab import gradescope

    try:
        if args.step == "run":
            return gradescope.run(args.config, args.submission, args.results)
        names = gradescope.build(
            args.out,
            assignment=args.assignment,
            rubric=args.rubric,
            hidden=args.hidden,
            timeout=args.timeout,
            memory_mb=args.memory,
            visibility=args.visibility,
            allow_unsandboxed=args.allow_unsandboxed,
            source=args.source,
            force=args.force,
        )
    except gradescope.AutograderError as error:
        print(f"initlab gradescope: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({len(names)} files): upload it as the assignment's autograder")
    return 0


def _grade(args: argparse.Namespace) -> int:
    import json

    from initlab import assignments

    try:
        assignments.get(args.assignment).points(args.rubric)
    except assignments.UnknownName as error:
        print(f"initlab grade: {error}", file=sys.stderr)
        return 2

    if args.allow_unsandboxed:
        import os

        from initlab.sandbox import ALLOW_UNSANDBOXED

        os.environ[ALLOW_UNSANDBOXED] = "1"  # this process and the grading processes it starts

    bulk_only = ("workers", "scheduler", "csv", "gradescope", "overwrite")
    if args.db is None:
        given = [f"--{name}" for name in bulk_only if getattr(args, name)]
        if given:
            print(f"initlab grade: {given[0]} needs --db (grading a whole class)", file=sys.stderr)
            return 2
    else:
        if args.json:
            print("initlab grade: --json grades one submission; drop it or --db", file=sys.stderr)
            return 2
        if args.workers and args.scheduler:
            print("initlab grade: --workers and --scheduler exclude each other", file=sys.stderr)
            return 2
        from initlab import bulk, classroom

        args.workers = args.workers or bulk.default_workers()
        return classroom.run(args)

    from initlab._text import plain
    from initlab.grading import SubmissionError, grade
    from initlab.sandbox import SandboxError

    try:
        report = grade(
            args.path,
            hidden=args.hidden,
            timeout=args.timeout,
            memory_mb=args.memory,
            assignment=args.assignment,
            rubric=args.rubric,
        )
    except SubmissionError as error:
        print(f"initlab grade: {plain(str(error))}", file=sys.stderr)
        return 2
    except SandboxError as error:  # the machine's failure, not the submission's
        print(f"initlab grade: {plain(str(error))}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.to_json()))
        return 0
    # Student text (messages, file names) is printed without its control characters.
    print(f"{plain(report.submission)}: {report.score:g} / {report.max_score:g} points")
    for test in report.tests:
        source = f"  ({plain(test.source)})" if test.source else ""
        print(f"  {test.name:<32}{test.score:>6g} / {test.max_score:<4g}{test.status}{source}")
        for diagnosis in test.diagnoses:
            print(f"      [{diagnosis.code}] {plain(diagnosis.message)}")
    return 0


def _release(args: argparse.Namespace) -> int:
    import importlib.util
    import os

    from initlab import assignments, release

    assignment = assignments.get(args.assignment)
    source = args.source or assignment.solutions_dir(Path("."))
    out = args.out or assignment.student_dir(Path("."))
    if not source.is_dir():
        print(f"initlab release: {source} is not a folder of solution sources", file=sys.stderr)
        return 2
    source_notebook = assignment.course_notebook(args.course)
    with_notebook = args.course.is_dir()
    if with_notebook and not source_notebook.is_file():
        print(f"initlab release: {source_notebook} does not exist", file=sys.stderr)
        return 2
    if out.exists() and not out.is_dir():
        print(f"initlab release: {out} exists and is not a folder", file=sys.stderr)
        return 2
    released = out / assignment.notebook
    if with_notebook and released.exists() and not args.force:
        # Checked before anything is written: the folder may hold a student's notebook.
        print(f"initlab release: {released} exists; pass --force to replace it", file=sys.stderr)
        return 2
    if with_notebook and importlib.util.find_spec("nbgrader") is None:
        print(
            "initlab release: nbgrader is not installed, so the notebook cannot be released "
            "(pip install 'initlab[nbgrader]', or pass --course to a folder that does not exist)",
            file=sys.stderr,
        )
        return 2
    try:
        written = release.release(source, out, force=args.force)
        if with_notebook:
            notebook = release.read_notebook(source_notebook)
            synced = release.sync_notebook(notebook, source, assignment)
            if synced != notebook:
                # Replaced whole or not at all: it is the instructors' notebook.
                partial = source_notebook.with_suffix(".ipynb.part")
                partial.write_text(release.notebook_text(synced), encoding="utf-8")
                os.replace(partial, source_notebook)
                written.append(source_notebook)
            written.append(
                release.release_notebook(args.course, out, force=args.force, assignment=assignment)
            )
    except release.ReleaseError as error:
        print(f"initlab release: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"initlab release: cannot write {error.filename}: {error.strerror}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):
        parser.print_help()  # a bare `initlab`: what it can do
        return 0
    args = parser.parse_args(argv)
    if args.command == "demo":
        from initlab import assignments

        if args.out.exists() and not args.out.is_dir():
            print(f"initlab demo: --out {args.out} exists and is not a folder", file=sys.stderr)
            return 2
        try:
            assignments.get(args.exercise).run_demo(args.out, args.iterations)
        except OSError as error:
            print(f"initlab demo: cannot write the plots to {args.out}: {error}", file=sys.stderr)
            return 2
    if args.command == "release":
        return _release(args)
    if args.command == "grade":
        return _grade(args)
    if args.command == "gradescope":
        return _gradescope(args)
    if args.command == "report":
        return _report(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
