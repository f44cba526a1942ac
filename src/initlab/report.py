"""``initlab report LEDGER --out FILE``: one HTML page about a bulk-graded class.

Read from the ledger of ``initlab grade DIR --db`` (opened read-only): the score
distribution, each function's mean score and pass rate, the most frequent
diagnoses with an example message each, the submissions that need a person, and
the grading times. One section per (assignment, rubric) the ledger holds. The page
is self-contained: its figures are inline SVG, its style is inline, it has no
script and loads nothing.

Everything a submission wrote (student ids, which are folder names, messages,
reasons, file names) is escaped: it is shown as text, never read as markup.
"""

from __future__ import annotations

import argparse
import html
import io
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from initlab import __version__
from initlab._text import plain
from initlab.classroom import BANDS, reason_of
from initlab.ledger import Ledger, LedgerError, Result
from initlab.plots import CLASS_COLORS, INIT_COLORS

TOP_DIAGNOSES = 12  # codes in the chart and the table
SLOWEST = 10  # submissions in the table of the slowest
EXAMPLE_CHARS = 600  # of a diagnosis's example message
# What a person has to look at: the student's code could not be graded in full.
NEEDS_A_PERSON = ("error", "timeout", "invalid", "crashed", "infrastructure")
# Statuses whose time is the grading of the student's code (the others were not run).
TIMED = ("ok", "error", "timeout")
OTHER_FUNCTION = "#2471a3"  # a function that is not an initializer
SCORE_COLOR = CLASS_COLORS[1]
MISTAKE_COLOR = CLASS_COLORS[0]
TIME_COLOR = "#5d6d7e"


class ReportError(Exception):
    """The report cannot be made; the message is the one-line reason."""


@dataclass
class Section:
    """The latest result of each student for one assignment and rubric."""

    assignment: str
    rubric: str
    results: list[Result]
    superseded: int  # earlier results of the same students, left out


def read_sections(
    path: Path, assignment: str | None = None, rubric: str | None = None
) -> list[Section]:
    """Every (assignment, rubric) of the ledger at path, in the order they were first
    graded, or the one chosen; a student
    graded more than once (another file, another initlab, with or without the hidden
    checks) counts with the latest result."""
    try:
        ledger = Ledger.reading(path)
    except LedgerError as error:
        raise ReportError(str(error)) from None
    try:
        keys = ledger.keys()
        if not keys:
            raise ReportError(f"{path} holds no results yet (grade a class into it first)")
        held = list(dict.fromkeys((key[4], key[5]) for key in keys))  # first graded first
        chosen = [
            (a, r) for a, r in held if assignment in (None, a) and rubric in (None, r)
        ]  # fmt: skip
        if not chosen:
            asked = ", ".join(
                f"{option} {value}"
                for option, value in (("--assignment", assignment), ("--rubric", rubric))
                if value is not None
            )
            raise ReportError(
                f"{path} holds no results for {asked}; it holds "
                + "; ".join(plain(f"{a}, rubric {r}") for a, r in held)
            )
        sections = []
        for pair in chosen:
            latest: dict[str, tuple] = {}
            mine = [key for key in keys if (key[4], key[5]) == pair]
            for key in mine:  # oldest first: the last one of a student stays
                latest[key[0]] = key
            results = [ledger.get(latest[student]) for student in sorted(latest)]
            sections.append(Section(*pair, results, len(mine) - len(latest)))
        return sections
    finally:
        ledger.close()


# ---------------------------------------------------------------------------- statistics


def percent(result: Result) -> float | None:
    if result.score is None:
        return None
    return 100 * result.score / result.max_score if result.max_score else 0.0


SCORE_BINS = [f"{low}-{low + 9}" for low in range(0, 100, 10)] + ["100"]


def score_bin(value: float) -> int:
    """The bar of a score in percent: 0-9, 10-19, ..., 90-99, and 100 on its own."""
    return 10 if value >= 100 else max(0, int(value // 10))


@dataclass
class FunctionStats:
    name: str
    points: float
    graded: int  # submissions with a result for this function
    mean: float  # mean score, in percent of its points
    passed: int
    top_code: str
    top_count: int


def function_stats(results: list[Result]) -> list[FunctionStats]:
    """Per function of the rubric (in its order), over the submissions whose functions
    were graded."""
    tests: dict[str, list[dict]] = {}
    for result in results:
        for test in result.tests:
            tests.setdefault(test["name"], []).append(test)
    stats = []
    for name, rows in tests.items():
        points = max(t["max_score"] for t in rows)
        codes = Counter(code for t in rows for code in t["diagnoses"])
        code, count = codes.most_common(1)[0] if codes else ("", 0)
        scores = [100 * t["score"] / t["max_score"] if t["max_score"] else 0.0 for t in rows]
        stats.append(
            FunctionStats(
                name,
                points,
                len(rows),
                statistics.fmean(scores),
                sum(t["status"] == "passed" for t in rows),
                code,
                count,
            )
        )
    return stats


@dataclass
class DiagnosisStats:
    code: str
    tests: int  # tests with this code
    students: int
    functions: list[tuple[str, int]]  # the functions it was found in, the most often first
    example: str  # one message, from a test with this code alone when there is one


def diagnosis_stats(results: list[Result]) -> list[DiagnosisStats]:
    """Every diagnosis code, the most frequent first (then by name)."""
    counts: Counter = Counter()
    students: dict[str, set[str]] = {}
    functions: dict[str, Counter] = {}
    examples: dict[str, tuple[bool, str]] = {}
    for result in results:
        for test in result.tests:
            for code in test["diagnoses"]:
                counts[code] += 1
                students.setdefault(code, set()).add(result.student_id)
                functions.setdefault(code, Counter())[test["name"]] += 1
                alone = test["diagnoses"] == [code]
                if code not in examples or (alone and not examples[code][0]):
                    examples[code] = (alone, test["message"])
    ordered = sorted(counts, key=lambda code: (-counts[code], code))
    return [
        DiagnosisStats(
            code,
            counts[code],
            len(students[code]),
            functions[code].most_common(),
            examples[code][1],
        )
        for code in ordered
    ]


# ------------------------------------------------------------------------------ figures


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.add_subplot()


_SVG_ID = re.compile(r'\bid="([^"]+)"')


def _svg(figure, name: str) -> str:
    """The figure as an SVG element to put inside the page: no XML prolog or metadata,
    and its ids prefixed with name, so the figures of one page never share one. Its
    text is drawn as paths (matplotlib's default), so no text of it is markup."""
    import matplotlib

    buffer = io.StringIO()
    # Text as paths whatever a matplotlibrc says, and the same ids for the same figure.
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": name}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    for identifier in set(_SVG_ID.findall(text)):
        fresh = f"{name}-{identifier}"
        text = text.replace(f'id="{identifier}"', f'id="{fresh}"')
        text = text.replace(f'"#{identifier}"', f'"#{fresh}"')
        text = text.replace(f"url(#{identifier})", f"url(#{fresh})")
    # The width and height matplotlib gives are points; the page lets it scale instead.
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", text, count=1)
    return text.replace("<svg", f'<svg role="img" aria-label="{name}" class="figure"', 1)


def _integer_axis(axis) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def score_figure(results: list[Result], name: str) -> str:
    counts = [0] * len(SCORE_BINS)
    for result in results:
        value = percent(result)
        if value is not None:
            counts[score_bin(value)] += 1
    figure, ax = _figure(7.5, 2.9)
    bars = ax.bar(range(len(SCORE_BINS)), counts, color=SCORE_COLOR, width=0.8)
    ax.bar_label(bars, [str(c) if c else "" for c in counts], padding=2, fontsize=8)
    ax.set_xticks(range(len(SCORE_BINS)), SCORE_BINS, fontsize=8)
    ax.set_xlabel("score (% of the rubric's points)")
    ax.set_ylabel("submissions")
    ax.set_ylim(0, max(counts) * 1.18 + 0.5)
    _integer_axis(ax.yaxis)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return _svg(figure, name)


def function_color(name: str) -> str:
    """An initializer's colour, as in the demo and the notebook (one per
    initialization); the other functions share one."""
    last = name.rsplit("_", 1)[-1]
    return INIT_COLORS.get(last, OTHER_FUNCTION) if name.startswith("initialize") else (
        OTHER_FUNCTION
    )


def function_figure(stats: list[FunctionStats], name: str) -> str:
    from matplotlib.patches import Patch

    figure, ax = _figure(7.5, 0.55 * len(stats) + 1.1)
    rows = list(range(len(stats)))[::-1]  # the rubric's first function on top
    colors = [function_color(s.name) for s in stats]
    height = 0.38
    means = [s.mean for s in stats]
    rates = [100 * s.passed / s.graded for s in stats]
    top = ax.barh([r + height / 2 for r in rows], means, height, color=colors)
    low = ax.barh(
        [r - height / 2 for r in rows],
        rates,
        height,
        color="white",
        edgecolor=colors,
        hatch="////",
        linewidth=1,
    )
    ax.bar_label(top, [f"{v:.0f}%" for v in means], padding=3, fontsize=7)
    ax.bar_label(low, [f"{v:.0f}%" for v in rates], padding=3, fontsize=7)
    ax.set_yticks(rows, [s.name for s in stats], fontsize=8)
    ax.set_xlim(0, 112)
    ax.set_xticks(range(0, 101, 20))
    ax.set_xlabel("%")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    # Above the axes, where no bar or label can be under it.
    figure.legend(
        handles=[
            Patch(color="#7b7d7d", label="mean score (% of its points)"),
            Patch(
                facecolor="white",
                edgecolor="#7b7d7d",
                hatch="////",
                label="passed (% of the submissions graded)",
            ),
        ],
        loc="outside upper center",
        ncols=2,
        fontsize=8,
        frameon=False,
    )
    return _svg(figure, name)


def diagnosis_figure(stats: list[DiagnosisStats], name: str) -> str:
    shown = stats[:TOP_DIAGNOSES]
    figure, ax = _figure(7.5, 0.32 * len(shown) + 1.0)
    rows = list(range(len(shown)))[::-1]
    bars = ax.barh(rows, [d.tests for d in shown], 0.7, color=MISTAKE_COLOR)
    ax.bar_label(bars, [str(d.tests) for d in shown], padding=3, fontsize=7)
    # The codes are the grader's own names (the catalog's), never a student's text.
    ax.set_yticks(rows, [d.code for d in shown], fontsize=8)
    ax.set_xlim(0, max(d.tests for d in shown) * 1.12 + 0.5)
    ax.set_xlabel("tests with this diagnosis")
    _integer_axis(ax.xaxis)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return _svg(figure, name)


def time_figure(seconds: list[float], name: str) -> str:
    figure, ax = _figure(7.5, 2.6)
    bins = min(20, max(5, len(seconds) // 2))
    ax.hist(seconds, bins=bins, color=TIME_COLOR, edgecolor="white")
    median = statistics.median(seconds)
    ax.axvline(median, color=MISTAKE_COLOR, linestyle="--", linewidth=1.2)
    # Above the axes, where no bar is.
    ax.set_title(
        f"dashed: the median, {median:.2f} s", loc="right", fontsize=8, color=MISTAKE_COLOR
    )
    ax.set_xlabel("grading time per submission (s)")
    ax.set_ylabel("submissions")
    ax.set_xlim(left=0)
    _integer_axis(ax.yaxis)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return _svg(figure, name)


# --------------------------------------------------------------------------------- page


def _e(text: object) -> str:
    """Student text as HTML text: control characters dropped, markup escaped."""
    return html.escape(plain(str(text), one_line=False), quote=True)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    """header and rows are already HTML; the columns in numeric are right-aligned."""

    def cells(tag: str, row: list[str]) -> str:
        return "".join(
            f'<{tag} class="n">{c}</{tag}>' if i in numeric else f"<{tag}>{c}</{tag}>"
            for i, c in enumerate(row)
        )

    body = "\n".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    head = f"<thead><tr>{cells('th', header)}</tr></thead>"
    return f"<table>\n{head}\n<tbody>\n{body}\n</tbody>\n</table>"


def _failures(result: Result) -> str:
    """Every function of result that errored or ran out of time, with its whole message
    (the why above is one line), folded."""
    failed = [t for t in result.tests if t["status"] == "error"]
    if not failed:
        return ""
    items = "".join(
        f'<li><code>{_e(t["name"])}</code>: <div class="message">{_e(t["message"])}</div></li>'
        for t in failed
    )
    return f"<details><summary>the messages ({len(failed)})</summary><ul>{items}</ul></details>"


def render_section(section: Section, index: int) -> str:
    results = section.results
    slug = f"s{index}"
    title = f"{_e(section.assignment)}, rubric {_e(section.rubric)}"
    statuses = Counter(r.status for r in results)
    graded = [r for r in results if r.score is not None]
    parts = [f'<section id="{slug}">', f"<h2>{title}</h2>"]
    summary = ", ".join(f"{count} {_e(status)}" for status, count in sorted(statuses.items()))
    parts.append(
        f'<p class="lead">{len(results)} submission{"s" if len(results) != 1 else ""}: '
        f"{summary}."
        + (
            f" {section.superseded} earlier result{'s' if section.superseded != 1 else ''} "
            "of the same students (another file, initlab or --hidden) left out: each "
            "student counts with the latest."
            if section.superseded
            else ""
        )
        + "</p>"
    )

    # Scores.
    parts.append("<h3>Scores</h3>")
    if graded:
        values = [percent(r) for r in graded]
        maxima = sorted({r.max_score for r in graded if r.max_score is not None})
        out_of = " or ".join(f"{m:g}" for m in maxima)
        parts.append(
            f"<p>{len(graded)} with a score (out of {out_of} points): mean "
            f"{statistics.fmean(values):.1f}%, median {statistics.median(values):.1f}%"
            + (
                f"; {len(results) - len(graded)} without one (crashed or infrastructure)"
                if len(graded) < len(results)
                else ""
            )
            + ".</p>"
        )
        parts.append(score_figure(results, f"{slug}-scores"))
        bands = [
            [label, str(sum(low <= v < high for v in values))] for label, low, high in BANDS
        ] + [["0", str(sum(v == 0 for v in values))]]
        parts.append(_table(["band", "submissions"], bands, {1}))
    else:
        parts.append("<p>No submission has a score.</p>")

    # Functions.
    stats = function_stats(results)
    parts.append("<h3>Functions</h3>")
    if stats:
        parts.append(
            f"<p>Over the {max(s.graded for s in stats)} submissions whose functions were "
            "graded: each function's mean score (solid) and how many passed it (hatched). "
            "The initializers have their colours of the demo and the notebook.</p>"
        )
        parts.append(function_figure(stats, f"{slug}-functions"))
        rows = [
            [
                f'<span class="swatch" style="background:{function_color(s.name)}"></span>'
                f"<code>{_e(s.name)}</code>",
                f"{s.points:g}",
                f"{s.mean:.1f}%",
                f"{s.passed} / {s.graded} ({100 * s.passed / s.graded:.0f}%)",
                f"<code>{_e(s.top_code)}</code> ({s.top_count})" if s.top_code else "",
            ]
            for s in stats
        ]
        parts.append(
            _table(
                ["function", "points", "mean score", "passed", "most frequent diagnosis"],
                rows,
                {1, 2, 3},
            )
        )
    else:
        parts.append("<p>No submission had its functions graded.</p>")

    # Diagnoses.
    diagnoses = diagnosis_stats(results)
    parts.append("<h3>Most frequent diagnoses</h3>")
    if diagnoses:
        parts.append(
            "<p>How many tests each mistake was found in, with one message the grader "
            "wrote for it (as the student saw it).</p>"
        )
        parts.append(diagnosis_figure(diagnoses, f"{slug}-diagnoses"))
        rows = []
        for d in diagnoses[:TOP_DIAGNOSES]:
            example = d.example if len(d.example) <= EXAMPLE_CHARS else (
                d.example[:EXAMPLE_CHARS] + " ..."
            )
            rows.append(
                [
                    f"<code>{_e(d.code)}</code>",
                    str(d.tests),
                    str(d.students),
                    "<br>".join(
                        f"<code>{_e(f)}</code>" + (f" ({n})" if len(d.functions) > 1 else "")
                        for f, n in d.functions
                    ),
                    f'<div class="message">{_e(example)}</div>',
                ]
            )
        parts.append(
            _table(["diagnosis", "tests", "students", "found in", "example message"], rows, {1, 2})
        )
        if len(diagnoses) > TOP_DIAGNOSES:
            rest = diagnoses[TOP_DIAGNOSES:]
            parts.append(
                f"<p>And {len(rest)} more: "
                + ", ".join(f"<code>{_e(d.code)}</code> ({d.tests})" for d in rest)
                + ".</p>"
            )
    else:
        parts.append(
            "<p>No test has a diagnosis: every function graded passed.</p>"
            if stats
            else "<p>No function was graded.</p>"
        )

    # Needs a person.
    troubled = sorted(
        (r for r in results if r.status in NEEDS_A_PERSON),
        key=lambda r: (NEEDS_A_PERSON.index(r.status), r.student_id),
    )
    parts.append(f'<h3 id="{slug}-people">Submissions that need a person ({len(troubled)})</h3>')
    if troubled:
        parts.append(
            "<p>A function raised or ran out of time (<code>error</code>, "
            "<code>timeout</code>), the folder is not a submission (<code>invalid</code>), "
            "it took down a grading process twice (<code>crashed</code>), or the grader "
            "failed (<code>infrastructure</code>: the next <code>initlab grade</code> "
            "grades it again).</p>"
        )
        rows = [
            [
                f'<span class="student">{_e(r.student_id)}</span>',
                f'<span class="status {_e(r.status)}">{_e(r.status)}</span>',
                _number(r.score),
                f'<div class="message">{_e(reason_of(r))}</div>' + _failures(r),
            ]
            for r in troubled
        ]
        parts.append(_table(["student", "status", "score", "why"], rows, {2}))
    else:
        parts.append("<p>None: every submission was graded in full.</p>")

    # Timings.
    timed = [r for r in results if r.status in TIMED]
    parts.append("<h3>Grading time</h3>")
    if timed:
        seconds = [r.seconds for r in timed]
        parts.append(
            f"<p>Per submission whose code ran ({len(timed)}): median "
            f"{statistics.median(seconds):.2f} s, mean {statistics.fmean(seconds):.2f} s, "
            f"longest {max(seconds):.2f} s, {sum(seconds):.1f} s in all (the time of one "
            "grading process, from reading the files to the last check).</p>"
        )
        parts.append(time_figure(seconds, f"{slug}-times"))
        slowest = sorted(timed, key=lambda r: -r.seconds)[:SLOWEST]
        rows = [
            [
                f'<span class="student">{_e(r.student_id)}</span>',
                f"{r.seconds:.2f}",
                f'<span class="status {_e(r.status)}">{_e(r.status)}</span>',
                _e(r.worker),
            ]
            for r in slowest
        ]
        parts.append("<h4>The slowest</h4>")
        parts.append(_table(["student", "seconds", "status", "graded by"], rows, {1}))
    else:
        parts.append("<p>No submission's code ran.</p>")
    parts.append("</section>")
    return "\n".join(parts)


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1c2833;
       max-width: 62rem; margin: 1.5rem auto; padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { border-bottom: 2px solid #d5d8dc; padding-bottom: 0.2rem; margin-top: 2.2rem; }
h3 { margin-top: 1.6rem; }
p.meta { color: #566573; margin-top: 0; }
nav ul { padding-left: 1.2rem; }
svg.figure { display: block; width: 100%; max-width: 48rem; height: auto; margin: 0.6rem 0; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #d5d8dc; padding: 0.25rem 0.5rem; text-align: left;
         vertical-align: top; }
th { background: #f2f3f4; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code, .student { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.85rem; }
.student { overflow-wrap: anywhere; }
.message { white-space: pre-wrap; overflow-wrap: anywhere; max-width: 40rem;
           min-width: 18rem; font-size: 0.85rem; }
details { margin-top: 0.3rem; font-size: 0.85rem; }
details ul { margin: 0.2rem 0; padding-left: 1.1rem; }
.swatch { display: inline-block; width: 0.8rem; height: 0.8rem; margin-right: 0.4rem;
          vertical-align: -0.1rem; border-radius: 2px; }
.status { font-weight: 600; }
.status.error, .status.crashed { color: #c0392b; }
.status.timeout, .status.invalid { color: #b9770e; }
.status.infrastructure { color: #5d6d7e; }
"""


def render(sections: list[Section], ledger_name: str) -> str:
    """The whole page."""
    when = time.strftime("%Y-%m-%d %H:%M %Z", time.localtime())
    count = sum(len(s.results) for s in sections)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Nothing is fetched and nothing runs, whatever the page holds.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>initlab report: {_e(ledger_name)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        "<h1>Class report</h1>",
        f'<p class="meta">{count} submission{"s" if count != 1 else ""} in the ledger '
        f"<code>{_e(ledger_name)}</code>; made {when} by initlab {_e(__version__)}.</p>",
    ]
    if len(sections) > 1:
        parts.append("<nav><ul>")
        for index, section in enumerate(sections):
            parts.append(
                f'<li><a href="#s{index}">{_e(section.assignment)}, rubric '
                f"{_e(section.rubric)}</a> ({len(section.results)} submissions; "
                f'<a href="#s{index}-people">need a person</a>)</li>'
            )
        parts.append("</ul></nav>")
    parts.extend(render_section(section, index) for index, section in enumerate(sections))
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def write_page(text: str, out: Path) -> None:
    """Written whole or not at all: a temporary file beside out, renamed onto it."""
    descriptor, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o600)  # grades are the students' data, as the ledger is
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def run(args: argparse.Namespace) -> int:
    """Exit status 0 when the page is written, 2 with a one-line reason otherwise."""
    out: Path = args.out
    try:
        if out.is_dir():
            raise ReportError(f"--out {out} is a folder")
        if out.exists() and args.ledger.exists() and out.samefile(args.ledger):
            raise ReportError(f"--out {out} is the ledger itself; choose another file")
        if out.exists() and not args.force:
            raise ReportError(f"--out {out} exists; pass --force to replace it")
        if not out.parent.is_dir():
            raise ReportError(f"--out {out}: {out.parent} is not a folder")
        sections = read_sections(args.ledger, args.assignment, args.rubric)
        page = render(sections, args.ledger.name)
        write_page(page, out)
    except ReportError as error:
        print(f"initlab report: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"initlab report: cannot write {out}: {error.strerror}", file=sys.stderr)
        return 2
    count = sum(len(s.results) for s in sections)
    print(
        f"wrote {out}: {count} submission{'s' if count != 1 else ''}, "
        f"{len(sections)} section{'s' if len(sections) != 1 else ''}"
    )
    return 0
