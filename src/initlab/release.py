"""Student stubs from the solution sources: nbgrader's ``### BEGIN SOLUTION`` convention.

The solutions are written once, in ``graders/solutions/``; every fenced block
becomes ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` at the fence's
indentation, as nbgrader's ``ClearSolutions`` does.
"""

from __future__ import annotations

from pathlib import Path

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
                    f"{name}:{number}: {BEGIN} inside the block opened at line {begin_line}"
                )
            begin_line = number
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + stub for stub in STUB)
        elif marker == END:
            if begin_line is None:
                raise ReleaseError(f"{name}:{number}: {END} without a {BEGIN} before it")
            begin_line = None
        elif begin_line is None:
            out.append(line)
    if begin_line is not None:
        raise ReleaseError(f"{name}:{begin_line}: {BEGIN} is never closed by {END}")
    return "\n".join(out) + "\n"


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
        raise ReleaseError(f"{source_dir} has no .py solution sources")
    if out_dir.resolve() == source_dir.resolve():
        raise ReleaseError(f"{out_dir} is the solution folder itself; choose another folder")
    stubs = {source.name: strip_solutions(source.read_text(), str(source)) for source in sources}
    existing = [name for name in stubs if (out_dir / name).exists()]
    if existing and not force:
        raise ReleaseError(
            f"{out_dir} already has {', '.join(existing)}; pass --force to replace "
            "(they are overwritten with the stubs)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, stub in stubs.items():
        (out_dir / name).write_text(stub)
        written.append(out_dir / name)
    return written
