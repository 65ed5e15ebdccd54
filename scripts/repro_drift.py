"""The bank drift of the reproduction study's LM2 models (docs/reproduction.md): stream the same text through
each model, one segment at a time from a fresh bank (as `lm2 inspect` does), and record the mean norm of the
bank rows after every segment, against the number of tokens read.

    python scripts/repro_drift.py results/repro/ablations/bank_size \\
        results/repro/lm2/model results/repro/ablations/lm2-bank16/model results/repro/ablations/lm2-bank64/model

Writes OUT/bank_drift.json (per model: segment length, tokens after each segment, mean/min/max row norm),
OUT/bank_drift.png (mean row norm against tokens, with the training length marked) and OUT/bank_drift.md (the
mean row norm after 64, 128, ... tokens read), and prints that table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from lm2.analysis.inspect import record_memory
from lm2.data.paths import data_dir
from lm2.integrations.pretrained import load_pretrained
from lm2.integrations.stream import open_prompt, text_pieces, token_chunks

BOOK = "adventures_of_sherlock_holmes.txt"


def drift(model_dir: Path, text: Path, max_tokens: int) -> dict:
    """Row norms of the bank of the LM2 model in `model_dir` after each segment of the first tokens of `text`."""
    model, tokenizer = load_pretrained(model_dir, "cpu", "auto")
    with open_prompt(None, str(text)) as (stream, _):
        ids = next(token_chunks(tokenizer, text_pieces(stream), max_tokens, [tokenizer.bos_token_id]))
    norms = record_memory(model, torch.tensor([ids])).bank_norm[0]  # (S + 1, m)
    length = model.config.segment_length
    return {
        "segment_length": length,
        "tokens": [min(s * length, len(ids)) for s in range(norms.shape[0])],
        "mean": [float(f"{v:.6g}") for v in norms.mean(-1).tolist()],
        "min": [float(f"{v:.6g}") for v in norms.min(-1).values.tolist()],
        "max": [float(f"{v:.6g}") for v in norms.max(-1).values.tolist()],
    }


def at_tokens(record: dict, tokens: int) -> float:
    """The mean row norm after the last segment that ends at or before `tokens` (M_0's before the first ends)."""
    return [m for t, m in zip(record["tokens"], record["mean"], strict=True) if t <= max(tokens, 0)][-1]


def plot(records: dict[str, dict], train_tokens: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, r in records.items():
        ax.plot(r["tokens"][1:], r["mean"][1:], label=f"{name} (segments of {r['segment_length']})")
    ax.axvline(train_tokens, color="grey", linestyle=":", linewidth=0.8)
    ax.text(train_tokens, ax.get_ylim()[1] * 0.5, " training length", fontsize=7, color="grey")
    ax.set(xscale="log", yscale="log", xlabel="tokens read", ylabel="mean bank row norm (M_0: 1)",
           title="LM2 bank drift on a Gutenberg book")  # fmt: skip
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, help="output folder")
    p.add_argument("models", type=Path, nargs="+", help="LM2 model folders (save_pretrained with tokenizer)")
    p.add_argument("--text", type=Path, help=f"UTF-8 text to read (default: <data dir>/haystack/dev/{BOOK})")
    p.add_argument("--max-tokens", type=int, default=16384)
    p.add_argument("--train-tokens", type=int, default=256, help="the training length, marked on the plot")
    a = p.parse_args()
    if a.max_tokens < 1:
        raise SystemExit(f"repro_drift: --max-tokens={a.max_tokens} must be at least 1")
    text = a.text
    if text is None:
        root = data_dir()
        if root is None:
            raise SystemExit("repro_drift: no data folder; give --text or set LM2_DATA_DIR")
        text = root / "haystack" / "dev" / BOOK
    torch.set_num_threads(1)
    records = {}
    for model_dir in a.models:
        name = f"bank {json.loads((model_dir / 'config.json').read_text())['memory_slots']}"
        if name in records:  # same bank size: tell them apart by their folders (lm2, lm2-block0, ...)
            name = f"{model_dir.resolve().parent.name}, {name}"
        print(f"{name}: {model_dir}", flush=True)
        records[name] = drift(model_dir, text, a.max_tokens)
    records = dict(sorted(records.items(), key=lambda kv: kv[1]["segment_length"]))  # stable: given order
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "bank_drift.json").write_text(json.dumps({"text": text.name, "records": records}, indent=1) + "\n")
    plot(records, a.train_tokens, a.out / "bank_drift.png")
    marks = [2**k for k in range(6, 15) if 2**k <= a.max_tokens]
    lines = ["| tokens read | " + " | ".join(map(str, marks)) + " |", "|---|" + "---:|" * len(marks)]
    for name, r in records.items():
        lines.append(f"| {name} | " + " | ".join(f"{at_tokens(r, t):.1f}" for t in marks) + " |")
    (a.out / "bank_drift.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
