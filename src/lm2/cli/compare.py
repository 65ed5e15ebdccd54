"""`lm2 compare`: several `lm2 eval` results side by side.

Writes OUT/comparison.md, one Markdown table in the layout of the LM2 paper's Table 1 (a block of rows per
context length, a row per model, a column per task plus their average, a last block averaging over the
lengths, and the chance level), prints it, and writes OUT/comparison.png, the models' tasks × lengths
heatmaps side by side. Cells out of memory show as OOM, cells not evaluated as —. See docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare",
        help="compare several lm2 eval results: a Markdown table and side-by-side heatmaps",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results", type=Path, nargs="+", metavar="RESULTS", help="results.json files or eval folders")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="where comparison.md/.png go")
    p.add_argument("--names", help="comma-separated model names, one per RESULTS (default: their folder names)")
    p.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    from lm2.evaluation import compare

    names = None if args.names is None else [n.strip() for n in args.names.split(",")]
    try:
        table = compare(args.results, args.out, names)
    except (ValueError, FileNotFoundError) as err:
        logger.error("lm2 compare: %s", err)
        return 2
    print(table)
    print(f"wrote {args.out / 'comparison.md'} and {args.out / 'comparison.png'}")
    return 0
