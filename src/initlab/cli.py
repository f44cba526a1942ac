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
    return parser


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
    return 0


if __name__ == "__main__":
    sys.exit(main())
