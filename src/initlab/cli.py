"""The ``initlab`` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="initlab", description="The 'Initialization' deep-learning assignment."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="train the course model with zeros, random, Xavier and He initialization",
        description="Train [2, 10, 5, 1] on the circles data with each initialization, "
        "print the cost traces and the results table, and save the plots.",
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
        type=_positive_int,
        default=15000,
        metavar="N",
        help="gradient-descent iterations (default: 15000, as the course)",
    )
    release = commands.add_parser(
        "release",
        help="write the student stubs generated from the solution sources",
        description="Replace every ### BEGIN SOLUTION ... ### END SOLUTION block of the "
        "solution sources by a NotImplementedError stub and write the result to OUTDIR.",
    )
    release.add_argument("out", type=Path, metavar="OUTDIR", help="folder for the stubs")
    release.add_argument(
        "--source",
        type=Path,
        default=Path("graders/solutions"),
        metavar="DIR",
        help="folder of the solution sources (default: graders/solutions)",
    )
    release.add_argument("--force", action="store_true", help="replace existing files")
    return parser


def _release(args: argparse.Namespace) -> int:
    from initlab.release import ReleaseError, release

    if not args.source.is_dir():
        print(
            f"initlab release: {args.source} is not a folder of solution sources", file=sys.stderr
        )
        return 2
    try:
        written = release(args.source, args.out, force=args.force)
    except ReleaseError as error:
        print(f"initlab release: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from initlab import demo

        if args.out.exists() and not args.out.is_dir():
            print(f"initlab demo: --out {args.out} exists and is not a folder", file=sys.stderr)
            return 2
        try:
            demo.main(args.out, args.iterations)
        except OSError as error:
            print(f"initlab demo: cannot write the plots to {args.out}: {error}", file=sys.stderr)
            return 2
    if args.command == "release":
        return _release(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
