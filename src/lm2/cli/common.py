"""What every `lm2` subcommand shares: how a command is added, the help formatter, the options several
commands take (`--model`, `--prompt` / `--file`, `--device`, `--dtype`, `--threads`) and one way to report
bad input.

Bad input — an option value, a missing file, a config field — raises `ValueError` (the library's errors, and
`UsageError` for checks of the command line itself) or `FileNotFoundError`. `lm2`'s `main` reports it as one
line on standard error, `lm2 <command>: <what is wrong: the option or field, the value, what is allowed>`,
and exits with `EXIT_USAGE` (2), never with a traceback (`lm2 -v` adds it). argparse's own errors (an
unknown option, a value of the wrong type) exit with 2 as well.
"""

from __future__ import annotations

import argparse
import functools
import logging
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger("lm2.cli")

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
BAD_INPUT = (ValueError, FileNotFoundError)  # what `report` turns into a message and EXIT_USAGE
DTYPE_HELP = "auto (as saved), float32, bfloat16, float16 or float64"

Command = Callable[[argparse.Namespace], int]

# The subcommands, in the order `lm2 --help` lists them, with their one-line summaries. `lm2.cli.main` lists
# them from here and imports only the module (`lm2.cli.<name>`) of the command that runs, so `lm2 --help`
# loads neither torch nor transformers.
COMMANDS = {
    "demo": "the main job: train and compare tiny lm2/rmt/vanilla models",
    "recall": "train tiny models on cross-segment recall and compare them",
    "data": "build BABILong sets, train the tokenizer, tokenize corpora into shards, get or generate bAbI",
    "train": "train lm2 / rmt / vanilla (BABILong curriculum or language modelling)",
    "eval": "evaluate a saved model on BABILong (accuracy per task and length, baselines, heatmap)",
    "perplexity": "held-out perplexity of a saved model at several context lengths (the same tokens at each)",
    "reproduce": "the reproduction study end to end, resumable: pretrain, perplexity, BABILong fine-tune, eval, report",
    "compare": "compare several lm2 eval results: a Markdown table and side-by-side heatmaps",
    "ablate": "memory ablations of a trained LM2 (carry cut, memory off), evaluated like lm2 eval",
    "generate": "continue a prompt of any length (text or file) with a saved model",
    "bench": "benchmarks: memory overhead, against transformers' Llama, long inputs, training memory, GPU",
    "convert": "add LM2, RMT or ARMT memory to a pretrained Llama checkpoint (identity-preserving for lm2, armt)",
    "inspect": "plot an LM2 model's memory reads, gates and bank norms on an input (PNG)",
    "retention": "how far back a model's BABILong answers reach, and how long a fact lasts in its memory",
    "probe": "whether the facts of a BABILong qa1 input can be read back from a model's memory (trained probes)",
}


class UsageError(ValueError):
    """A command-line value that is not allowed; the message names the option, the value and what is allowed."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the layout of a description of several lines (a module docstring), wraps a one-line one, and
    shows each option's default, except empty defaults (None, False, []) and where the help states it."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text.strip():
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, []) or "default" in text:
            return text
        return super()._get_help_string(action)


def add_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    run: Command,
    help: str | None = None,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """Add subcommand `name` whose handler is `run(args) -> exit code`; its errors are reported under the
    parser's name (`lm2 bench length: ...`). `help` defaults to the summary in `COMMANDS` (top-level commands)."""
    help = help or COMMANDS[name]
    parser = subparsers.add_parser(name, help=help, description=description or help, formatter_class=HelpFormatter)
    parser.set_defaults(func=run, command_name=parser.prog)
    return parser


def add_command_group(
    subparsers: argparse._SubParsersAction, name: str, description: str, metavar: str, help: str | None = None
) -> argparse._SubParsersAction:
    """Add subcommand `name` that has subcommands of its own (`lm2 data babilong`); alone it prints its help
    and exits with 2. Returns the action to add the subcommands to."""

    def show_help(args: argparse.Namespace) -> int:
        parser.print_help()
        return EXIT_USAGE

    parser = add_command(subparsers, name, show_help, help, description)
    return parser.add_subparsers(dest=f"{name}_command", metavar=metavar)


def report(args: argparse.Namespace, err: BaseException) -> int:
    """Log bad input as one line `lm2 <command>: <message>` (with the traceback under `lm2 -v`); EXIT_USAGE."""
    name = getattr(args, "command_name", None) or f"lm2 {args.command}"
    message = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    logger.error("%s: %s", name, message, exc_info=bool(getattr(args, "verbose", False)))
    return EXIT_USAGE


def resumable(run: Command) -> Command:
    """`run` for a command that saves finished cells in `args.out` as it goes: Ctrl-C ends it with one line
    saying where they are and how to continue, and EXIT_INTERRUPTED."""

    @functools.wraps(run)
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except KeyboardInterrupt:
            name = getattr(args, "command_name", None) or f"lm2 {args.command}"
            logger.error(
                "%s: interrupted; the finished cells are saved in %s: the same command continues", name, args.out
            )
            return EXIT_INTERRUPTED

    return wrapped


# -- options several commands share -------------------------------------------------------------------
def add_model_option(parser: argparse._ActionsContainer, help: str = "model folder with its tokenizer") -> None:
    parser.add_argument("--model", type=Path, required=True, metavar="DIR", help=help)


def add_text_options(parser: argparse._ActionsContainer, what: str = "the prompt") -> None:
    """`--prompt TEXT` or `--file PATH` ('-': standard input), exactly one of them."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompt", help=f"{what} as text")
    source.add_argument("--file", metavar="PATH", help=f"read {what} from a UTF-8 file ('-': standard input)")


def add_device_options(parser: argparse._ActionsContainer, threads: bool = True) -> None:
    """`--device` (resolved by `lm2.device.resolve_device`), `--dtype` and (unless `threads=False`) `--threads`."""
    parser.add_argument(
        "--device", default="auto", help="torch device: auto (cuda when available, else cpu), cpu, cuda, cuda:N"
    )
    parser.add_argument("--dtype", default="auto", help=DTYPE_HELP)
    if threads:
        parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")


def add_cell_options(
    parser: argparse._ActionsContainer, samples: int, samples_help: str, task_help: str = "one bAbI task"
) -> None:
    """The BABILong cell a saved-model analysis reads (`lm2 retention`, `lm2 probe`): `--task`, `--length`,
    `--samples`, `--seed`, `--babi` and `--haystack`, built as `lm2 eval` builds them."""
    parser.add_argument("--task", default="qa1", help=f"{task_help} (default qa1)")
    parser.add_argument("--length", default="1k", help="input length in tokens, e.g. 1024 or 16k (default 1k)")
    parser.add_argument("--samples", type=int, default=samples, help=f"{samples_help} (default {samples})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the question choice and background (default 0)")
    parser.add_argument(
        "--babi", metavar="DIR", help="bAbI v1.2 folder, 'generate' or 'download' (default: <data dir>/babi)"
    )
    parser.add_argument(
        "--haystack", default="prose", metavar="DIR|prose|pg19", help="background text (default: prose)"
    )


def parse_bins(text: str) -> list[int]:
    """`--bins "128,256,512"` → distance bin edges in tokens; `UsageError` unless they increase and are positive."""
    from lm2.analysis.retention import distance_bins

    try:
        edges = [int(item) for item in text.split(",") if item.strip()]
        distance_bins(edges)
    except ValueError:
        raise UsageError(f"--bins={text!r} must be increasing positive token counts like 128,256,512") from None
    return edges


def check_at_least_one(args: argparse.Namespace, *names: str) -> None:
    """`UsageError` for the first of the integer options `names` (attribute names) that is given and < 1."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')}={value} must be at least 1")


def parse_indices(text: str | None, option: str) -> list[int] | None:
    """`"0,2"` → `[0, 2]` (block indices); None or empty → None; `UsageError` naming `option` otherwise."""
    if not text:
        return None
    try:
        return [int(i) for i in text.split(",")]
    except ValueError:
        raise UsageError(f"{option}={text!r} must be block indices like 0,1,2") from None
