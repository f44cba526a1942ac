"""The ``initlab`` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from initlab.i18n import LANGUAGES, N_, _
from initlab.translation import EDITIONS


def _positive(kind: type) -> object:
    """An argparse type: a number of the given kind, greater than zero."""
    expected = (
        _("expected a positive integer, got {text}")
        if kind is int
        else _("expected a positive number, got {text}")
    )

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(expected.format(text=repr(text))) from None
        if not value > 0:
            raise argparse.ArgumentTypeError(expected.format(text=text))
        return value

    return parse


def _lang_option(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """--lang, on the command and on each subcommand (``initlab --lang zh grade ...`` and
    ``initlab grade --lang zh ...``); main reads it before the parser is built."""
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=argparse.SUPPRESS,
        help=_("the language of every message, en or zh (default: INITLAB_LANG, else the locale)"),
    )


# argparse's own words, in the catalog so that its help and errors are translated too.
ARGPARSE_WORDS = [
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("show program's version number and exit"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("the following arguments are required: %s"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("unrecognized arguments: %s"),
    N_("expected one argument"),
    N_("invalid %(type)s value: %(value)r"),
]


def _assignment_option(parser: argparse.ArgumentParser) -> None:
    from initlab import assignments

    parser.add_argument(
        "--assignment",
        default=assignments.DEFAULT,
        choices=assignments.names(),
        metavar="NAME",
        help=_("the assignment (default: {default}; one of {names})").format(
            default=assignments.DEFAULT, names=", ".join(assignments.names())
        ),
    )


def _rubric_option(parser: argparse.ArgumentParser) -> None:
    from initlab import assignments

    rubrics = {
        name: _(text)
        for assignment in map(assignments.get, assignments.names())
        for name, text in assignment.rubric_help.items()
    }
    parser.add_argument(
        "--rubric",
        metavar="NAME",
        help=_("the rubric: {rubrics} (default: full)").format(
            rubrics="; ".join(f"{name}: {text}" for name, text in rubrics.items())
        ),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="initlab", description=_("The 'Initialization' deep-learning assignment.")
    )
    from initlab import __version__

    parser.add_argument(
        "--version",
        action="version",
        version=f"initlab {__version__}",
    )
    _lang_option(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help=_("train the course model with zeros, random, Xavier and He initialization"),
        description=_(
            "Train [2, 10, 5, 1] on the circles data with each initialization, "
            "print the cost traces and the results table, and save the plots; "
            "`initlab demo planar`: the second exercise's models and hidden-size experiment."
        ),
    )
    from initlab import assignments

    _lang_option(demo)
    demo.add_argument(
        "exercise",
        nargs="?",
        default=assignments.DEFAULT,
        choices=assignments.names(),
        metavar="EXERCISE",
        help=_("whose demo (default: {default}; one of {names})").format(
            default=assignments.DEFAULT, names=", ".join(assignments.names())
        ),
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("initlab-demo"),
        metavar="DIR",
        help=_("folder for cost_curves.png and decision_boundaries.png (default: initlab-demo)"),
    )
    demo.add_argument(
        "--iterations",
        type=_positive(int),
        metavar="N",
        help=_("gradient-descent iterations (default: the course's, 15000 or 10000 for planar)"),
    )
    grade = commands.add_parser(
        "grade",
        help=_("grade one submission (a folder, a .py file or a notebook), or a whole class"),
        description=_(
            "Run the student's functions in a sandboxed process and grade what they "
            "return. Exit status 0 whenever grading ran, 2 when PATH cannot be graded. With --db, "
            "PATH is a folder of submissions (<student_id>/, or nbgrader's "
            "submitted/<student_id>/<assignment>/) graded into a SQLite ledger; rerunning grades "
            "only what is missing or changed."
        ),
    )
    grade.add_argument(
        "path",
        type=Path,
        metavar="PATH",
        help=_("the submission, or with --db the folder of submissions"),
    )
    _assignment_option(grade)
    _rubric_option(grade)
    _lang_option(grade)
    grade.add_argument("--json", action="store_true", help=_("print one JSON object"))
    grade.add_argument(
        "--hidden", action="store_true", help=_("add the instructors' hidden checks")
    )
    grade.add_argument(
        "--timeout",
        type=_positive(float),
        default=10.0,
        metavar="S",
        help=_("seconds each function may take for all its calls together (default: 10)"),
    )
    grade.add_argument(
        "--memory",
        type=_positive(int),
        default=2048,
        metavar="MB",
        help=_("address space the student code may use (default: 2048)"),
    )
    grade.add_argument(
        "--allow-unsandboxed",
        action="store_true",
        help=_(
            "grade even where student code would run as root (no bubblewrap, and no other "
            "uid can run the interpreter); refused otherwise"
        ),
    )
    whole_class = grade.add_argument_group("a whole class (PATH is a folder of submissions)")
    whole_class.add_argument(
        "--db", type=Path, metavar="FILE", help=_("the SQLite ledger of grades (made if absent)")
    )
    whole_class.add_argument(
        "--workers",
        type=_positive(int),
        metavar="N",
        help=_("local grading processes (default: the number of CPUs)"),
    )
    whole_class.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help=_("grade on the workers of a Dask cluster instead, e.g. tcp://host:8786"),
    )
    whole_class.add_argument("--csv", type=Path, metavar="FILE", help=_("export the grades as CSV"))
    whole_class.add_argument(
        "--gradescope",
        type=Path,
        metavar="DIR",
        help=_("export DIR/<student_id>/results.json in Gradescope's format"),
    )
    whole_class.add_argument(
        "--overwrite",
        action="store_true",
        help=_("replace an existing --csv file or --gradescope DIR"),
    )
    release = commands.add_parser(
        "release",
        help=_("write the student stubs generated from the solution sources"),
        description=_(
            "Replace every ### BEGIN SOLUTION ... ### END SOLUTION block of the "
            "assignment's solution sources by a NotImplementedError stub and write the result "
            "to OUTDIR (default: assignment/<assignment>)."
        ),
    )
    release.add_argument(
        "out", type=Path, nargs="?", metavar="OUTDIR", help=_("folder for the stubs")
    )
    _assignment_option(release)
    _lang_option(release)
    release.add_argument(
        "--source",
        type=Path,
        metavar="DIR",
        help=_("folder of the solution sources (default: graders/solutions/<assignment>)"),
    )
    release.add_argument(
        "--course",
        type=Path,
        default=Path("graders/nbgrader"),
        metavar="DIR",
        help=_(
            "the nbgrader course: its source notebook's solution and test cells are "
            "rewritten from the solution sources, and the student notebook released by "
            "nbgrader generate_assignment is written to OUTDIR (default: graders/nbgrader; "
            "skipped when the folder does not exist)"
        ),
    )
    release.add_argument(
        "--edition",
        choices=EDITIONS,
        default="en",
        help=_(
            "the notebooks' language: zh writes the Chinese edition, its markdown from "
            "the translations in COURSE/translations/zh/, into the nbgrader assignment "
            "<assignment>_zh and OUTDIR (default: assignment/<assignment>_zh); en (the "
            "default) the English notebooks"
        ),
    )
    release.add_argument(
        "--update-translations",
        action="store_true",
        help=_(
            "bring the edition's translations up to the English notebook (a new cell gets "
            "an empty entry, a changed one its old translation marked fuzzy) and write "
            "nothing else"
        ),
    )
    release.add_argument("--force", action="store_true", help=_("replace existing files"))
    _gradescope_parser(commands)
    _report_parser(commands)
    return parser


def _report_parser(commands) -> None:
    report = commands.add_parser(
        "report",
        help=_(
            "write one HTML page about a class graded with --db: scores, functions, "
            "diagnoses, who needs a person, timings"
        ),
        description=_(
            "Read the ledger of `initlab grade DIR --db FILE` (read-only) and write "
            "one self-contained HTML page (inline figures, no script, nothing loaded): the "
            "score distribution, each function's mean score and pass rate, the most frequent "
            "diagnoses with an example message, the submissions that need a person and why, "
            "and the grading times. One section per assignment and rubric the ledger holds "
            "(--assignment, --rubric: only those); a student graded more than once counts with "
            "the latest result. Exit status 0 when the page is written, 2 with a one-line "
            "reason otherwise."
        ),
    )
    _lang_option(report)
    report.add_argument("ledger", type=Path, metavar="LEDGER", help=_("the SQLite ledger (--db)"))
    report.add_argument(
        "--out",
        type=Path,
        default=Path("report.html"),
        metavar="FILE",
        help=_("the page to write (default: report.html); written whole or not at all"),
    )
    report.add_argument(
        "--assignment", metavar="NAME", help=_("only this assignment (default: every one held)")
    )
    report.add_argument("--rubric", metavar="NAME", help=_("only this rubric (default: every one)"))
    report.add_argument("--force", action="store_true", help=_("replace an existing --out file"))


def _report(args: argparse.Namespace) -> int:
    from initlab import report

    return report.run(args)


def _gradescope_parser(commands) -> None:
    from initlab.gradescope import VISIBILITIES

    gradescope = commands.add_parser(
        "gradescope",
        help=_("build a Gradescope autograder (zip), or run it inside Gradescope's container"),
        description=_(
            "Gradescope's programming assignments: `autograder` builds the zip to "
            "upload; `run` is what the zip's run_autograder calls for every submission."
        ),
    )
    steps = gradescope.add_subparsers(dest="step", required=True, metavar="STEP")
    autograder = steps.add_parser(
        "autograder",
        help=_("write the autograder zip to upload to Gradescope"),
        description=_(
            "Write OUT.zip: setup.sh and run_autograder at its root, initlab's "
            "source, its dependencies pinned to the versions installed here, and the grading "
            "options. Gradescope's image then grades /autograder/submission (a notebook, the "
            "modules, or both) in the sandbox, with the same points as `initlab grade`."
        ),
    )
    autograder.add_argument("out", type=Path, metavar="OUT.zip", help=_("the zip to write"))
    _assignment_option(autograder)
    _lang_option(autograder)
    _rubric_option(autograder)
    autograder.add_argument(
        "--hidden", action="store_true", help=_("grade with the hidden checks as well")
    )
    autograder.add_argument(
        "--visibility",
        choices=VISIBILITIES,
        help=_("when students see each test (default: visible; after_published with --hidden)"),
    )
    autograder.add_argument(
        "--timeout", type=_positive(float), default=10.0, metavar="S",
        help=_("seconds each function has for all its calls (default 10)"),
    )  # fmt: skip
    autograder.add_argument(
        "--memory", type=_positive(int), default=2048, metavar="MB",
        help=_("memory limit of the student's process (default 2048)"),
    )  # fmt: skip
    autograder.add_argument(
        "--allow-unsandboxed",
        action="store_true",
        help=_(
            "grade even where no sandbox and no other uid is available in the container "
            "(each Gradescope submission runs in a container of its own)"
        ),
    )
    autograder.add_argument(
        "--source",
        type=Path,
        metavar="DIR",
        help=_(
            "the initlab project folder to take the sources from (default: the one this "
            "initlab was installed from, or the current folder)"
        ),
    )
    autograder.add_argument("--force", action="store_true", help=_("replace an existing OUT.zip"))
    run = steps.add_parser(
        "run",
        help=_("grade a submission inside the autograder (run_autograder calls this)"),
        description=_(
            "Grade SUBMISSION with the options of CONFIG and write RESULTS/results.json."
        ),
    )
    run.add_argument("config", type=Path, metavar="CONFIG", help=_("initlab-autograder.json"))
    run.add_argument(
        "--submission", type=Path, default=Path("/autograder/submission"), metavar="DIR",
        help=_("default: /autograder/submission"),
    )  # fmt: skip
    run.add_argument(
        "--results", type=Path, default=Path("/autograder/results"), metavar="DIR",
        help=_("default: /autograder/results"),
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
    print(
        _("wrote {path} ({count} files): upload it as the assignment's autograder").format(
            path=args.out, count=len(names)
        )
    )
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
            print(
                "initlab grade: "
                + _("{option} needs --db (grading a whole class)").format(option=given[0]),
                file=sys.stderr,
            )
            return 2
    else:
        if args.json:
            print(
                "initlab grade: " + _("--json grades one submission; drop it or --db"),
                file=sys.stderr,
            )
            return 2
        if args.workers and args.scheduler:
            print(
                "initlab grade: " + _("--workers and --scheduler exclude each other"),
                file=sys.stderr,
            )
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
    from initlab.i18n import status

    points = _("{score:g} / {max_score:g} points").format(
        score=report.score, max_score=report.max_score
    )
    print(f"{plain(report.submission)}: {points}")
    for test in report.tests:
        source = f"  ({plain(test.source)})" if test.source else ""
        shown = status(test.status)
        print(f"  {test.name:<32}{test.score:>6g} / {test.max_score:<4g}{shown}{source}")
        for diagnosis in test.diagnoses:
            print(f"      [{diagnosis.code}] {plain(diagnosis.message)}")
    return 0


def _release(args: argparse.Namespace) -> int:
    import importlib.util
    import os

    from initlab import assignments, release, translation

    assignment = assignments.get(args.assignment)
    edition = args.edition
    if args.update_translations:
        return _update_translations(args, assignment)
    source = args.source or assignment.solutions_dir(Path("."))
    out = args.out or translation.student_dir(Path("."), assignment, edition)
    if not source.is_dir():
        print(
            "initlab release: "
            + _("{path} is not a folder of solution sources").format(path=source),
            file=sys.stderr,
        )
        return 2
    source_notebook = assignment.course_notebook(args.course)
    with_notebook = args.course.is_dir()
    if with_notebook and not source_notebook.is_file():
        print(
            "initlab release: " + _("{path} does not exist").format(path=source_notebook),
            file=sys.stderr,
        )
        return 2
    if out.exists() and not out.is_dir():
        print(
            "initlab release: " + _("{path} exists and is not a folder").format(path=out),
            file=sys.stderr,
        )
        return 2
    released = out / assignment.notebook
    if with_notebook and released.exists() and not args.force:
        # Checked before anything is written: the folder may hold a student's notebook.
        print(
            "initlab release: "
            + _("{path} exists; pass --force to replace it").format(path=released),
            file=sys.stderr,
        )
        return 2
    if with_notebook and importlib.util.find_spec("nbgrader") is None:
        print(
            "initlab release: "
            + _(
                "nbgrader is not installed, so the notebook cannot be released "
                "(pip install 'initlab[nbgrader]', or pass --course to a folder that does not "
                "exist)"
            ),
            file=sys.stderr,
        )
        return 2
    def replace(path: Path, notebook: dict) -> None:
        # Replaced whole or not at all: it is the instructors' notebook.
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".ipynb.part")
        partial.write_text(release.notebook_text(notebook), encoding="utf-8")
        os.replace(partial, path)
        written.append(path)

    try:
        if with_notebook:
            notebook = release.read_notebook(source_notebook)
            synced = release.sync_notebook(notebook, source, assignment)
            if edition != "en":  # translated before anything is written
                catalog = translation.read_catalog(
                    translation.catalog_path(args.course, assignment, edition)
                )
                edition_notebook = translation.course_notebook(args.course, assignment, edition)
                translated = translation.translate(synced, catalog, edition, assignment.notebook)
        written = release.release(source, out, force=args.force)
        if with_notebook:
            if synced != notebook:
                replace(source_notebook, synced)
            if edition != "en" and (
                not edition_notebook.is_file()
                or release.read_notebook(edition_notebook) != translated
            ):
                replace(edition_notebook, translated)
            written.append(
                release.release_notebook(
                    args.course,
                    out,
                    force=args.force,
                    assignment=assignment,
                    course_name=translation.course_name(assignment, edition),
                )
            )
    except release.ReleaseError as error:
        print(f"initlab release: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(
            "initlab release: "
            + _("cannot write {path}: {error}").format(path=error.filename, error=error.strerror),
            file=sys.stderr,
        )
        return 2
    for path in written:
        print(_("wrote {path}").format(path=path))
    return 0


def _update_translations(args: argparse.Namespace, assignment) -> int:
    from initlab import release, translation

    if args.edition == "en":
        print(
            "initlab release: " + _("--update-translations needs --edition (zh)"),
            file=sys.stderr,
        )
        return 2
    source_notebook = assignment.course_notebook(args.course)
    if not source_notebook.is_file():
        print(
            "initlab release: " + _("{path} does not exist").format(path=source_notebook),
            file=sys.stderr,
        )
        return 2
    path = translation.catalog_path(args.course, assignment, args.edition)
    try:
        counts = translation.update_catalog(
            path, release.read_notebook(source_notebook), assignment, args.edition
        )
    except release.ReleaseError as error:
        print(f"initlab release: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(
            "initlab release: "
            + _("cannot write {path}: {error}").format(path=error.filename, error=error.strerror),
            file=sys.stderr,
        )
        return 2
    print(
        _(
            "wrote {path}: {new} new, {fuzzy} fuzzy, {dropped} dropped; "
            "{left} cell(s) to translate"
        ).format(
            path=path,
            new=counts["new"],
            fuzzy=counts["fuzzy"],
            dropped=counts["dropped"],
            left=counts["to translate"],
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `initlab grade ... | head`: the reader has what it wanted
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv: list[str] | None) -> int:
    from initlab import i18n

    words = sys.argv[1:] if argv is None else argv
    lang = i18n.lang_from_argv(words)
    if lang in LANGUAGES:  # before the parser is built: its help is in that language
        i18n.set_language(lang)
    i18n.translate_argparse()
    parser = build_parser()
    if not [w for w in words if w != "--lang" and w != lang and not w.startswith("--lang=")]:
        parser.print_help()  # a bare `initlab`: what it can do
        return 0
    args = parser.parse_args(argv)
    if args.command == "demo":
        from initlab import assignments

        if args.out.exists() and not args.out.is_dir():
            print(
                "initlab demo: "
                + _("--out {path} exists and is not a folder").format(path=args.out),
                file=sys.stderr,
            )
            return 2
        try:
            assignments.get(args.exercise).run_demo(args.out, args.iterations)
        except OSError as error:
            print(
                "initlab demo: "
                + _("cannot write the plots to {path}: {error}").format(path=args.out, error=error),
                file=sys.stderr,
            )
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
