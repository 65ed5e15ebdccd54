"""The bank drift of the reproduction study's LM2 models (docs/reproduction.md; the work is
`lm2.analysis.drift.bank_drift`): stream the same text through each model, one segment at a time from a fresh
bank, and record the mean norm of the bank rows after every segment, against the number of tokens read.

    python scripts/repro_drift.py results/repro/ablations/bank_size \\
        results/repro/lm2/model results/repro/ablations/lm2-bank16/model results/repro/ablations/lm2-bank64/model

Writes OUT/bank_drift.json (per model: segment length, tokens after each segment, mean/min/max row norm),
OUT/bank_drift.png (mean row norm against tokens, with the training length marked) and OUT/bank_drift.md (the
mean row norm after 64, 128, ... tokens read), and prints that table.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from lm2.analysis.drift import BOOK, bank_drift
from lm2.data.paths import data_dir


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, help="output folder")
    p.add_argument("models", type=Path, nargs="+", help="LM2 model folders (save_pretrained with tokenizer)")
    p.add_argument("--text", type=Path, help=f"UTF-8 text to read (default: <data dir>/haystack/dev/{BOOK})")
    p.add_argument("--max-tokens", type=int, default=16384)
    p.add_argument("--train-tokens", type=int, default=256, help="the training length, marked on the plot")
    a = p.parse_args()
    text = a.text
    if text is None:
        if data_dir() is None:
            p.error("no data folder; give --text or set LM2_DATA_DIR")
        text = data_dir() / "haystack" / "dev" / BOOK
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        print(bank_drift(a.models, text, a.out, a.max_tokens, a.train_tokens), end="")
    except (ValueError, FileNotFoundError) as err:
        p.error(str(err))


if __name__ == "__main__":
    main()
