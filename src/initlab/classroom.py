"""``initlab grade SUBMISSIONS_DIR --db FILE``: the command around ``initlab.bulk``.

A progress bar while it runs, a summary at the end, and exports from the
ledger: a CSV of every student, and Gradescope's ``results.json`` per student.
An existing export is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from initlab import assignments, gradescope
from initlab._text import cell, plain
from initlab.bulk import (
    Batch,
    BulkError,
    DaskPool,
    LocalPool,
    discover,
    grade_directory,
    loose_files,
    read_task,
)
from initlab.i18n import _, language, status
from initlab.ledger import Ledger, LedgerError, Result
from initlab.sandbox import SandboxError, sweep_scratch
from initlab.sandbox import current as current_sandbox

BANDS = [("100%", 100, 101), ("80-99%", 80, 100), ("50-79%", 50, 80), ("1-49%", 1e-9, 50)]
LISTED = 20  # submissions named in the summary's list of errors, at most


def run(args: argparse.Namespace) -> int:
    """Exit status 0 when every submission has a grade, 1 when some failed for reasons
    of the machinery (rerun to grade them), 2 when the batch cannot start, 130 on Ctrl-C."""
    out, err = Console(), Console(stderr=True)
    try:
        _check_exports(args)
        found = discover(args.path)
        if not args.scheduler:
            # The local grading processes have this machine's sandbox: one that would
            # run student code as root is refused before anything is made or graded.
            current_sandbox()
        ledger = Ledger(args.db)
    except (BulkError, LedgerError, SandboxError) as error:
        print(f"initlab grade: {error}", file=sys.stderr)
        return 2
    sweep_scratch()
    for entry in loose_files(args.path):
        print(
            "initlab grade: "
            + _("skipped {path}: a submission is a folder per student").format(
                path=plain(str(entry))
            ),
            file=sys.stderr,
        )
    assignment = assignments.get(args.assignment)
    options = {
        "hidden": args.hidden,
        "timeout": args.timeout,
        "memory_mb": args.memory,
        "assignment": assignment.name,
        "rubric": args.rubric or assignment.default_rubric,
        "allow_unsandboxed": args.allow_unsandboxed,
        "lang": language(),
    }
    try:
        tasks = [read_task(student, folder, **options) for student, folder in found]
    except BulkError as error:
        ledger.close()
        print(f"initlab grade: {error}", file=sys.stderr)
        return 2
    try:
        pool = DaskPool(args.scheduler) if args.scheduler else LocalPool(args.workers)
    except BulkError as error:
        ledger.close()
        print(f"initlab grade: {error}", file=sys.stderr)
        return 2
    progress = Progress(
        TextColumn(_("grading")),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        # Student ids are shown as they are, never read as rich markup.
        TextColumn("{task.description}", markup=False),
        console=err,
        transient=True,
    )
    try:
        with progress:
            bar = progress.add_task("", total=sum(not ledger.is_done(t.key) for t in tasks))
            batch = grade_directory(
                tasks,
                ledger,
                pool,
                lambda result: progress.update(
                    bar, advance=1, description=plain(result.student_id)
                ),
            )
    except KeyboardInterrupt:
        ledger.close()
        print(
            "initlab grade: "
            + _(
                "interrupted; every finished submission is in the ledger, "
                "the same command grades the rest"
            ),
            file=sys.stderr,
        )
        return 130
    ledger.close()
    # The exports first: whatever happens while the summary is shown, they are written.
    written = None
    try:
        if args.csv:
            write_csv(batch, args.csv)
        if args.gradescope:
            written = write_gradescope(batch, args.gradescope)
    except OSError as error:
        print(
            "initlab grade: " + _("cannot write the export: {error}").format(error=error),
            file=sys.stderr,
        )
        return 2
    print_summary(batch, out)
    if args.csv:
        out.print(Text(_("wrote {path}").format(path=args.csv)))
    if written is not None:
        out.print(
            Text(
                _("wrote {count} results.json files under {path}").format(
                    count=written, path=args.gradescope
                )
            )
        )
    infrastructure = [r for r in batch.results.values() if r.status == "infrastructure"]
    return 1 if infrastructure or len(batch.results) < len(batch.tasks) else 0


def _check_exports(args: argparse.Namespace) -> None:
    """Before grading: an export would not replace a file unless asked to."""
    if args.csv and args.csv.exists() and not args.overwrite:
        raise BulkError(
            _("--csv {path} exists; add --overwrite to replace it").format(path=args.csv)
        )
    if args.csv and args.csv.is_dir():
        raise BulkError(_("--csv {path} is a folder").format(path=args.csv))
    if args.csv and args.csv.resolve() == args.db.resolve():
        raise BulkError(
            _("--csv {path} is the ledger itself; choose another file").format(path=args.csv)
        )
    folder = args.gradescope
    if folder and folder.exists():
        if not folder.is_dir():
            raise BulkError(_("--gradescope {path} is not a folder").format(path=folder))
        if any(folder.iterdir()) and not args.overwrite:
            raise BulkError(
                _("--gradescope {path} is not empty; add --overwrite to replace it").format(
                    path=folder
                )
            )


def print_summary(batch: Batch, console: Console) -> None:
    results = [batch.results[t.key] for t in batch.tasks if t.key in batch.results]
    bands = Table(title=_("Scores"), title_justify="left")
    bands.add_column(_("band"))
    bands.add_column(_("submissions"), justify="right")
    for label, low, high in BANDS:
        count = sum(r.score is not None and low <= _percent(r) < high for r in results)
        bands.add_row(label, str(count))
    bands.add_row("0", str(sum(r.score is not None and _percent(r) == 0 for r in results)))
    bands.add_row(_("not graded"), str(sum(r.score is None for r in results)))
    console.print(bands)

    codes = Counter(code for r in results for t in r.tests for code in t["diagnoses"])
    if codes:
        diagnoses = Table(title=_("Failures by diagnosis"), title_justify="left")
        diagnoses.add_column(_("diagnosis"))
        diagnoses.add_column(_("tests"), justify="right")
        for code, count in codes.most_common():
            diagnoses.add_row(Text(plain(code)), str(count))
        console.print(diagnoses)

    troubled = [r for r in results if r.status not in ("ok",)]
    if troubled:
        listing = Table(title=_("Errors, time-outs and ungraded submissions"), title_justify="left")
        for column in (_("student"), _("status"), _("why")):
            listing.add_column(column)
        for result in troubled[:LISTED]:
            shown = (result.student_id, status(result.status), _why(result))
            listing.add_row(*(Text(plain(text)) for text in shown))
        if len(troubled) > LISTED:
            more = _("and {count} more (see the ledger)").format(count=len(troubled) - LISTED)
            listing.add_row("...", "", more)
        console.print(listing)

    missing = len(batch.tasks) - len(results)
    graded_as = sorted(
        {
            _("{assignment}, rubric {rubric}").format(assignment=t.assignment, rubric=t.rubric)
            for t in batch.tasks
        }
    )
    console.print(Text(_("assignment {what}").format(what="; ".join(graded_as))))
    rate = batch.graded_now / batch.seconds * 60 if batch.seconds > 0 else 0.0
    console.print(
        _("{count} submissions: {now} graded now, {before} already in the ledger").format(
            count=len(batch.tasks),
            now=batch.graded_now,
            before=len(batch.tasks) - batch.graded_now - missing,
        )
        + (_(", {count} not graded").format(count=missing) if missing else "")
    )
    if batch.graded_now:
        console.print(
            _(
                "throughput: {rate:.0f} submissions/minute ({count} in {seconds:.1f} s, {pool})"
            ).format(rate=rate, count=batch.graded_now, seconds=batch.seconds, pool=batch.pool)
        )
    modes = Counter(r.sandbox.split(" (")[0] for r in results if r.sandbox)
    for mode, count in sorted(modes.items()):
        said = _("{mode} for 1 submission") if count == 1 else _("{mode} for {count} submissions")
        console.print(Text(said.format(mode=mode, count=count)))
    for detail in sorted({r.sandbox for r in results if "rlimits-only" in r.sandbox}):
        console.print(Text(detail))


def _percent(result: Result) -> float:
    if not result.max_score:
        return 0.0
    return 100 * result.score / result.max_score


def _why(result: Result) -> str:
    if result.reason:
        return plain(result.reason)
    broken = [t for t in result.tests if t["status"] == "error"]
    first = plain(broken[0]["message"]) if broken else ""
    return _("{count} function(s): {first}").format(count=len(broken), first=first)[:160]


def write_csv(batch: Batch, path: Path) -> None:
    """One row per student, the ledger's result for the submission graded."""
    names = list(dict.fromkeys(
        name for task in batch.tasks
        for name in assignments.get(task.assignment).points(task.rubric)
    ))  # fmt: skip
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["student_id", "status", "score", "max_score", *names, "reason", "digest", "grader"]
        )
        for task in batch.tasks:
            result = batch.results.get(task.key)
            if result is None:
                writer.writerow([cell(task.student_id), "not graded", "", "", *[""] * len(names)])
                continue
            scores = {t["name"]: t["score"] for t in result.tests}
            writer.writerow(
                [
                    cell(result.student_id),
                    result.status,
                    _number(result.score),
                    _number(result.max_score),
                    *[_number(scores.get(name)) for name in names],
                    cell(reason_of(result)),
                    result.digest,
                    result.grader_version,
                ]
            )


def reason_of(result: Result) -> str:
    """Why a submission did not simply get its score: its reason, or for an error or a
    time-out the functions that failed (the summary's "why"); empty when ok."""
    return (
        plain(result.reason) if result.reason else ("" if result.status == "ok" else _why(result))
    )


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def write_gradescope(batch: Batch, folder: Path) -> int:
    """``folder/<student_id>/results.json`` in Gradescope's format, for every student with
    a grade (none is written for a submission the machinery could not grade)."""
    written = 0
    for task in batch.tasks:
        result = batch.results.get(task.key)
        if result is None or result.score is None:
            continue
        target = folder / task.student_id
        target.mkdir(parents=True, exist_ok=True)
        (target / "results.json").write_text(json.dumps(gradescope.results(result), indent=1))
        written += 1
    return written
