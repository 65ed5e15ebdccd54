"""`lm2 ablate`: memory ablations of a trained LM2, without retraining, each evaluated like `lm2 eval`.

Variants: `carry-cut` (the bank is reset to M_0 at every segment boundary: nothing crosses segments through
the memory), `memory-off` (the gated memory of every block adds nothing to the residual stream, inside
segments too) and `memory-off-block<i>` (the same for block i only). The samples are built like `lm2 eval`
builds them, from the bAbI test questions with seed 0 (default: the shared data folder's bAbI files and
Gutenberg books, as in the reproduction study):

    lm2 ablate results/repro/lm2/model --out results/repro/ablations --lengths 0k,2k,8k \\
        --reference results/repro/lm2/eval --retrained results/repro/ablations/lm2-block0/eval

Writes OUT/<variant>/ (results.json, CSVs, heatmap) and OUT/ablations.md, a table of the variants beside
the unablated model (--reference) and retrained variants (--retrained) at the same lengths, and prints it.
Started again, finished cells are skipped. See docs/reproduction.md.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from lm2.cli.common import UsageError, add_command, check_at_least_one, resumable

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "ablate", run_ablate, description=__doc__)
    p.add_argument("model", type=Path, metavar="MODEL_DIR", help="the trained LM2 (save_pretrained + tokenizer)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (resumed if it exists)")
    p.add_argument("--variants", help="comma-separated, from carry-cut, memory-off, memory-off-block<i> (default: "
                   "carry-cut,memory-off,memory-off-block0,memory-off-block1)")  # fmt: skip
    p.add_argument("--tasks", default="qa1,qa2,qa3,qa4,qa5", help="comma-separated tasks (default qa1..qa5)")
    p.add_argument("--lengths", default="0k,2k,8k", help="comma-separated lengths (default 0k,2k,8k)")
    p.add_argument("--samples", type=int, default=100, help="samples per cell (default 100)")
    p.add_argument("--babi", metavar="DIR", help="bAbI v1.2 folder, generate or download (default: <data dir>/babi)")
    p.add_argument("--haystack", metavar="DIR|prose", help="background text (default: <data dir>/haystack/dev)")
    p.add_argument("--reference", type=Path, metavar="RESULTS", help="results.json (or folder) of the unablated model")
    p.add_argument("--retrained", type=Path, nargs="*", default=[], metavar="DIR",
                   help="eval folders of retrained variants, e.g. results/repro/ablations/lm2-block0/eval")  # fmt: skip
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")


@resumable
def run_ablate(args: argparse.Namespace) -> int:
    import torch

    from lm2.data import data_dir, load_tokenizer
    from lm2.evaluation import GeneratedSource
    from lm2.evaluation.ablate import DEFAULT_VARIANTS, ablate

    if not args.model.is_dir():
        raise FileNotFoundError(f"model folder not found: {args.model}")
    check_at_least_one(args, "samples", "threads")
    root = data_dir()
    if root is None and (args.babi is None or args.haystack is None):
        raise UsageError("no data folder: set LM2_DATA_DIR to the folder holding babi/ and haystack/, "
                         "or give --babi and --haystack")  # fmt: skip
    torch.set_num_threads(args.threads)
    tokenizer = load_tokenizer(args.model)
    source = GeneratedSource(
        tokenizer, tasks=args.tasks, lengths=args.lengths, samples=args.samples, seed=0,
        babi=args.babi or root / "babi", haystack=args.haystack or root / "haystack" / "dev",
    )  # fmt: skip
    variants = DEFAULT_VARIANTS if args.variants is None else [v.strip() for v in args.variants.split(",")]
    table = ablate(args.model, tokenizer, source, args.out, variants, reference=args.reference,
                   retrained=args.retrained)  # fmt: skip
    print(table)
    print(f"wrote {args.out / 'ablations.md'} and one evaluation folder per variant")
    return 0
