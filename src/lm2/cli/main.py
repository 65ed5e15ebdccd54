"""`lm2` entry point. Each subcommand lives in its own module and exposes `register(subparsers)`,
which adds its parser and sets `func` (a callable taking the parsed namespace, returning an exit code;
`lm2.cli.common.add_command` does both). Bad input that a command raises (`ValueError`, `FileNotFoundError`)
is reported here, one line and exit code 2 (`lm2.cli.common.report`)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from lm2.cli.common import BAD_INPUT, EXIT_USAGE, report

# Subcommand modules, in the order `lm2 --help` lists them. A module listed here that is absent is
# skipped, so the entry point never breaks while a subcommand is being developed.
SUBCOMMANDS = [
    "demo",
    "recall",
    "data",
    "train",
    "eval",
    "compare",
    "ablate",
    "generate",
    "bench",
    "convert",
    "inspect",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lm2", description="LM2: Large Memory Models, RMT and Transformer baselines.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"lm2.cli.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"lm2.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Subcommands with their own option parser (`lm2 train`, jsonargparse) receive the words argparse
    # does not know; every other subcommand rejects them.
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "passthrough", False):
        args.args = extra
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    if getattr(args, "func", None) is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except BAD_INPUT as err:
        return report(args, err)


if __name__ == "__main__":
    sys.exit(main())
