"""The ``rlcourse`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _cmd_reproduce(args: argparse.Namespace) -> int:
    if args.paper == "subsample":
        from rlcourse.subsample.reproduce import reproduce
    else:
        from rlcourse.games.reproduce import reproduce
    report = reproduce(out_dir=args.out, quick=args.quick, progress=not args.no_progress)
    print(f"report written to {report}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlcourse",
        description="A Jupyter-first course on SUBSAMPLE-Q and altruistic gradient adjustment.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "reproduce",
        help="re-run a paper's experiments and write figures and a Markdown report",
        description="Re-run the experiments of one paper, write PNG figures and a Markdown "
        "report of the numbers into --out.",
    )
    p.add_argument("paper", choices=["subsample", "aga"], help="which paper to reproduce")
    p.add_argument("--out", default=None, help="output folder (default: reproduce-PAPER)")
    p.add_argument("--quick", action="store_true", help="smaller settings that run in seconds")
    p.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")
    p.set_defaults(func=_cmd_reproduce)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rlcourse`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "out", "unset") is None and args.command == "reproduce":
        args.out = f"reproduce-{args.paper}"
    try:
        return int(args.func(args) or 0)
    except ValueError as exc:
        print(f"rlcourse {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
