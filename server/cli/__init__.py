"""The `motionscore` command line: one module per command group, each with ``register(sub)``;
exit codes in :mod:`.common`."""

from __future__ import annotations

import argparse
import sys

from motionscore.shared import __version__

from . import conform, evaluate, models, packaging, score, serving, training
from .common import EXIT_BAD_INPUT, EXIT_FAILED, Failure, UserError

#: Command groups in the order `motionscore --help` lists them.
GROUPS = (score, conform, evaluate, serving, training, models, packaging)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="motionscore", description="Music whose beats follow the motion.")
    parser.add_argument("--version", action="version", version=f"motionscore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"motionscore: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Failure as exc:
        print(f"motionscore: failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("\nmotionscore: interrupted", file=sys.stderr)
        return 130

