"""`lm2` entry point. Each subcommand lives in its own module `lm2.cli.<name>` and exposes
`register(subparsers)`, which adds its parser and sets `func` (a callable taking the parsed namespace,
returning an exit code; `lm2.cli.common.add_command` does both). Only the module of the command that runs
is imported: `lm2 --help` lists the commands from `lm2.cli.common.COMMANDS` without loading torch. Bad input
that a command raises (`ValueError`, `FileNotFoundError`) is reported here, one line and exit code 2
(`lm2.cli.common.report`)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from lm2 import __version__
from lm2.cli.common import BAD_INPUT, COMMANDS, EXIT_USAGE, report


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `lm2` parser: every command listed, and `command`'s own options (its module imported); the others
    are placeholders that accept anything, enough to find which command a command line names."""
    parser = argparse.ArgumentParser(prog="lm2", description="LM2: Large Memory Models, RMT and Transformer baselines.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, and tracebacks of errors")
    parser.add_argument("--version", action="version", version=f"lm2 {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, summary in COMMANDS.items():
        if name == command:
            importlib.import_module(f"lm2.cli.{name}").register(sub)
        else:
            sub.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    command = build_parser().parse_known_args(argv)[0].command  # `lm2 --help` and `--version` end here
    parser = build_parser(command)
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
