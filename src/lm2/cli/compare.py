"""`lm2 compare`: several `lm2 eval` results side by side.

Writes OUT/comparison.md, one Markdown table in the layout of the LM2 paper's Table 1 (a block of rows per
context length, a row per model, a column per task plus their average, a last block averaging over the
lengths, and the chance level), prints it, and writes OUT/comparison.png, the models' tasks × lengths
heatmaps side by side. Cells out of memory show as OOM, cells not evaluated as —. See docs/evaluation.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lm2.cli.common import add_command
from lm2.cli.outputs import add_overwrite_option, claim_folder, run_options


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "compare", run_compare, description=__doc__)
    p.add_argument("results", type=Path, nargs="+", metavar="RESULTS", help="results.json files or eval folders")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="where comparison.md/.png go")
    p.add_argument("--names", help="comma-separated model names, one per RESULTS (default: their folder names)")
    add_overwrite_option(p)


def run_compare(args: argparse.Namespace) -> int:
    from lm2.evaluation import compare

    names = None if args.names is None else [n.strip() for n in args.names.split(",")]
    claim_folder(args.out, run_options(args), args.overwrite)
    print(compare(args.results, args.out, names))
    print(f"wrote {args.out / 'comparison.md'} and {args.out / 'comparison.png'}")
    return 0
