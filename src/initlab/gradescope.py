"""Gradescope: the ``results.json`` of a grade, and an autograder that writes it.

``build`` writes the autograder zip Gradescope asks for: ``setup.sh`` and
``run_autograder`` at its root, with everything they need beside them (initlab's
source, its runtime dependencies pinned to the versions the instructor grades
with, the build requirements, and the grading options). Gradescope unpacks the
zip into ``/autograder/source``, runs ``setup.sh`` once when it builds the image
(a virtual environment in ``/autograder/venv``; nothing but the package index
is fetched), then ``run_autograder`` for every submission: it grades
``/autograder/submission`` exactly as ``initlab grade DIR --db`` grades one
student (same sandbox, same time policy, same points) and writes
``/autograder/results/results.json``.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import re
import sys
import time
import zipfile
from pathlib import Path

from initlab import assignments
from initlab._text import plain
from initlab.i18n import _, language, speaking

__all__ = ["VISIBILITIES", "AutograderError", "build", "results", "run"]

# Gradescope's visibility of a test: shown at once, after the due date, after the
# grades are published, or never to the student.
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")
CONFIG = "initlab-autograder.json"
AUTOGRADER = Path("/autograder")
# What of the project folder goes into the zip: the package's sources, nothing built.
_SOURCE_FILES = ("setup.py", "pyproject.toml", "MANIFEST.in", "README.md")
_SKIPPED = re.compile(r"(__pycache__|\.egg-info|\.so|\.pyd|\.c|\.cpp|\.mo|\.pyc)$")


class AutograderError(Exception):
    """The autograder cannot be built or run as asked; the message is the one-line reason."""


def results(result, visibility: str = "visible") -> dict:
    """Gradescope's results.json of a graded submission (an ``initlab.ledger.Result``).

    One test per function of the rubric, always: a submission that could not be
    graded gets each at 0, with the reason. Every text is plain text
    (``output_format`` ``text``): what a student wrote is never shown as markup.
    """
    tests = [
        {
            "name": test["name"],
            "score": test["score"],
            "max_score": test["max_score"],
            "status": "passed" if test["status"] == "passed" else "failed",
            "output": plain(test["message"], one_line=False),
            "visibility": visibility,
        }
        for test in result.tests
    ]
    if not tests:
        points = assignments.get(result.assignment).points(result.rubric)
        tests = [
            {"name": name, "score": 0.0, "max_score": worth, "status": "failed",
             "output": plain(result.reason) or _("not graded"), "visibility": visibility}
            for name, worth in points.items()
        ]  # fmt: skip
    from initlab.classroom import reason_of

    return {
        "score": result.score if result.score is not None else 0.0,
        "execution_time": round(result.seconds, 3),
        "output": reason_of(result)
        or _("graded by initlab {version}").format(version=result.grader_version),
        "output_format": "text",
        "test_output_format": "text",
        "tests": tests,
    }


# --- building the zip --------------------------------------------------------------


def build(
    out: Path,
    *,
    assignment: str = assignments.DEFAULT,
    rubric: str | None = None,
    hidden: bool = False,
    timeout: float = 10.0,
    memory_mb: int = 2048,
    visibility: str | None = None,
    allow_unsandboxed: bool = False,
    source: Path | None = None,
    force: bool = False,
) -> list[str]:
    """Write the autograder zip to out; the names it holds."""
    rubric = rubric or "full"
    try:
        assignments.get(assignment).points(rubric)
    except assignments.UnknownName as error:
        raise AutograderError(str(error)) from None
    visibility = visibility or ("after_published" if hidden else "visible")
    if visibility not in VISIBILITIES:
        raise AutograderError(
            _("--visibility {value}; expected one of {choices}").format(
                value=repr(visibility), choices=", ".join(VISIBILITIES)
            )
        )
    if out.suffix != ".zip":
        raise AutograderError(
            _("{path} does not end in .zip: Gradescope takes a zip file").format(path=out)
        )
    if out.exists() and not force:
        raise AutograderError(_("{path} exists; add --force to replace it").format(path=out))
    project = _project(source)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    config = {
        "assignment": assignment,
        "rubric": rubric,
        "hidden": hidden,
        "timeout": timeout,
        "memory_mb": memory_mb,
        "visibility": visibility,
        "allow_unsandboxed": allow_unsandboxed,
        "python": python,
        "initlab": _version(),
    }
    if language() != "en":  # the students' language, in the container too
        config["lang"] = language()
    members: dict[str, tuple[bytes, int]] = {
        "setup.sh": (_SETUP.replace("@PYTHON@", python).encode(), 0o755),
        "run_autograder": (_RUN.encode(), 0o755),
        CONFIG: (json.dumps(config, indent=1).encode() + b"\n", 0o644),
        "requirements.txt": ("".join(f"{pin}\n" for pin in runtime_pins()).encode(), 0o644),
        "requirements-build.txt": (
            "".join(f"{pin}\n" for pin in build_pins(project)).encode(),
            0o644,
        ),
    }
    for path in _source_files(project):
        relative = path.relative_to(project).as_posix()
        members[f"initlab/{relative}"] = (path.read_bytes(), 0o644)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (data, mode) in members.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    # Written whole or not at all: an existing zip is never left half replaced.
    partial = out.with_name(f".{out.name}.partial")
    try:
        partial.write_bytes(buffer.getvalue())
        partial.replace(out)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise AutograderError(
            _("cannot write {path}: {error}").format(path=out, error=error.strerror)
        ) from None
    return list(members)


def _version() -> str:
    from initlab import __version__

    return __version__


def _project(source: Path | None) -> Path:
    """The initlab project folder whose sources go into the zip."""
    candidates = [source] if source else [Path(__file__).resolve().parents[2], Path.cwd()]
    for folder in candidates:
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and re.search(
            r'^name\s*=\s*"initlab"', pyproject.read_text(encoding="utf-8"), re.M
        ):
            if not (folder / "src" / "initlab" / "_kernel.pyx").is_file():
                raise AutograderError(
                    _("{path} has no src/initlab/_kernel.pyx").format(path=folder)
                )
            return folder
    if source:
        raise AutograderError(
            _("--source {path} is not the initlab project folder").format(path=source)
        )
    raise AutograderError(
        _(
            "the initlab project folder was not found (the package is installed, not a "
            "checkout); pass --source DIR, the folder with initlab's pyproject.toml"
        )
    )


def _source_files(project: Path) -> list[Path]:
    files = [project / name for name in _SOURCE_FILES if (project / name).is_file()]
    for path in sorted((project / "src" / "initlab").rglob("*")):
        parts = path.relative_to(project).parts
        if path.is_file() and not any(_SKIPPED.search(part) for part in parts):
            files.append(path)
    return files


def runtime_pins() -> list[str]:
    """``name==version`` for initlab's runtime dependencies and theirs, as installed here."""
    from packaging.requirements import Requirement

    pins: dict[str, str] = {}
    todo = list(importlib.metadata.requires("initlab") or [])
    while todo:
        requirement = Requirement(todo.pop())
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = _canonical(requirement.name)
        if name in pins:
            continue
        try:
            distribution = importlib.metadata.distribution(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            raise AutograderError(
                _("{name}, which initlab needs, is not installed here").format(
                    name=requirement.name
                )
            ) from None
        pins[name] = f"{distribution.metadata['Name']}=={distribution.version}"
        todo.extend(distribution.requires or [])
    return sorted(pins.values(), key=str.lower)


def build_pins(project: Path) -> list[str]:
    """The build requirements of pyproject.toml, pinned where this machine knows the version."""
    text = (project / "pyproject.toml").read_text(encoding="utf-8")
    block = re.search(r"^\[build-system\]\s*\nrequires\s*=\s*\[(.*?)\]", text, re.M | re.S)
    specs = re.findall(r'"([^"]+)"', block.group(1)) if block else []
    if not any(re.match(r"wheel\b", spec) for spec in specs):
        specs.append("wheel")  # setuptools before 70.1 builds wheels with it
    pins = []
    for spec in specs:
        name = re.match(r"[A-Za-z0-9_.-]+", spec).group(0)
        version = _installed(name) or _generated_by(project, name)
        pins.append(f"{name}=={version}" if version else spec)
    return pins


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _generated_by(project: Path, name: str) -> str | None:
    """The Cython that generated the kernel's C file here, the one known to build it."""
    generated = project / "src" / "initlab" / "_kernel.c"
    if name.lower() != "cython" or not generated.is_file():
        return None
    with generated.open(encoding="utf-8", errors="replace") as file:
        found = re.match(r"/\* Generated by Cython (\S+) \*/", file.readline())
    return found.group(1) if found else None


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


_SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image: a
# virtual environment in /autograder/venv with initlab and the pinned versions it
# was built with. Only the package index is reached (pip's PIP_INDEX_URL,
# PIP_FIND_LINKS and PIP_NO_INDEX are honoured).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=python@PYTHON@
if ! command -v "$PYTHON" >/dev/null || ! "$PYTHON" -c "import venv, ensurepip" 2>/dev/null \\
    || ! command -v cc >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "$PYTHON" "$PYTHON-venv" "$PYTHON-dev" \\
        build-essential || {
        echo "setup.sh: Python @PYTHON@ is not available on this image; choose a Gradescope" \\
             "base image with Python @PYTHON@, or build the autograder with that Python" >&2
        exit 1
    }
fi
"$PYTHON" -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --upgrade -r requirements-build.txt
/autograder/venv/bin/python -m pip install --no-build-isolation -r requirements.txt ./initlab
# The grading child runs as an unprivileged uid where no sandbox starts: it must be
# able to reach the interpreter.
chmod 755 /autograder /autograder/venv
/autograder/venv/bin/initlab --version
"""

_RUN = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission: grade /autograder/submission and
# write /autograder/results/results.json.
exec /autograder/venv/bin/python -m initlab gradescope run \
    /autograder/source/initlab-autograder.json
"""


# --- running in the container ------------------------------------------------------


def run(config_path: Path, submission: Path, results_dir: Path) -> int:
    """Grade submission with the autograder's options; write results_dir/results.json.

    Exit status 0 when the submission was graded (whatever its score), 1 when the
    machinery failed (the results say so, and that it is not the student's fault).
    """
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        options = {
            "hidden": bool(config["hidden"]),
            "timeout": float(config["timeout"]),
            "memory_mb": int(config["memory_mb"]),
            "assignment": str(config["assignment"]),
            "rubric": str(config["rubric"]),
            "allow_unsandboxed": bool(config.get("allow_unsandboxed", False)),
            "lang": str(config.get("lang", "")),
        }
        visibility = str(config.get("visibility", "visible"))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise AutograderError(
            _("{path} is not an autograder configuration: {error}").format(
                path=config_path, error=error
            )
        ) from None
    with speaking(options["lang"] or None):
        return _run(submission, results_dir, options, visibility)


def _run(submission: Path, results_dir: Path, options: dict, visibility: str) -> int:
    from initlab import bulk
    from initlab.ledger import Result
    from initlab.sandbox import SandboxError

    started = time.perf_counter()
    status = 0
    try:
        task = bulk.read_task("submission", submission, **options)
        result = bulk.grade_task(task)
    except (SandboxError, bulk.BulkError) as error:
        result = Result(
            "submission", "", bulk.GRADER_VERSION, options["hidden"], "infrastructure",
            reason=_(
                "the autograder could not grade this submission ({error}); this is not a "
                "mistake in your work: ask your instructor to rerun it"
            ).format(error=plain(str(error))),
            assignment=options["assignment"], rubric=options["rubric"],
        )  # fmt: skip
        status = 1
    result.seconds = time.perf_counter() - started
    results_dir.mkdir(parents=True, exist_ok=True)
    written = results(result, visibility)
    (results_dir / "results.json").write_text(json.dumps(written, indent=1), encoding="utf-8")
    # run_autograder's output: Gradescope shows it to instructors only.
    print(f"{written['score']:g} / {result.max_score or 0:g} points: {written['output']}")
    print(f"sandbox: {result.sandbox or 'none'}; grader {result.grader_version}")
    return status
