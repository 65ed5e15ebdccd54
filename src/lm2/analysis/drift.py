"""Bank drift of LM2 models (docs/reproduction.md, `scripts/repro_drift.py`): stream the same text through
each model, one segment at a time from a fresh bank (as `lm2 inspect` does), and record the mean norm of
the bank rows after every segment, against the number of tokens read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from lm2.analysis.inspect import record_memory
from lm2.files import save_atomic
from lm2.integrations.pretrained import load_pretrained
from lm2.integrations.stream import open_prompt, text_pieces, token_chunks

logger = logging.getLogger(__name__)

BOOK = "adventures_of_sherlock_holmes.txt"  # the default text: <data dir>/haystack/dev/BOOK


def drift(model_dir: str | Path, text: str | Path, max_tokens: int) -> dict:
    """Row norms of the bank of the LM2 model in `model_dir` after each segment of the first `max_tokens`
    tokens of the file `text`: segment length, tokens read after each segment, mean/min/max row norm."""
    model, tokenizer = load_pretrained(Path(model_dir), "cpu", "auto")
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
    """Mean row norm against tokens read, one line per model, the training length marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, r in records.items():
        ax.plot(r["tokens"][1:], r["mean"][1:], label=f"{name} (segments of {r['segment_length']})")
    # In the legend rather than beside the line: a training length past the plotted tokens would put a label outside
    # the axes, which tight_layout cannot fit.
    ax.axvline(train_tokens, color="grey", linestyle=":", linewidth=0.8, label=f"training length ({train_tokens})")
    ax.set(xscale="log", yscale="log", xlabel="tokens read", ylabel="mean bank row norm (M_0: 1)",
           title="LM2 bank drift on a Gutenberg book")  # fmt: skip
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120))
    plt.close(fig)


def drift_table(records: dict[str, dict], max_tokens: int) -> str:
    """Markdown: the mean row norm of each model after 64, 128, ... tokens read (up to `max_tokens`)."""
    marks = [2**k for k in range(6, 15) if 2**k <= max_tokens]
    lines = ["| tokens read | " + " | ".join(map(str, marks)) + " |", "|---|" + "---:|" * len(marks)]
    for name, r in records.items():
        lines.append(f"| {name} | " + " | ".join(f"{at_tokens(r, t):.1f}" for t in marks) + " |")
    return "\n".join(lines) + "\n"


def bank_drift(
    models: Sequence[str | Path], text: str | Path, out: str | Path, max_tokens: int = 16384, train_tokens: int = 256
) -> str:
    """The drift of every model in `models`, named by its bank size (and its folder where two share one),
    ordered by segment length: writes OUT/bank_drift.json, OUT/bank_drift.png (the training length
    `train_tokens` marked) and OUT/bank_drift.md, and returns that table."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens={max_tokens} must be at least 1")
    records = {}
    for model_dir in map(Path, models):
        name = f"bank {json.loads((model_dir / 'config.json').read_text())['memory_slots']}"
        if name in records:  # same bank size: tell them apart by their folders (lm2, lm2-block0, ...)
            name = f"{model_dir.resolve().parent.name}, {name}"
        logger.info("%s: %s", name, model_dir)
        records[name] = drift(model_dir, text, max_tokens)
    records = dict(sorted(records.items(), key=lambda kv: kv[1]["segment_length"]))  # stable: given order
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bank_drift.json").write_text(json.dumps({"text": Path(text).name, "records": records}, indent=1) + "\n")
    plot(records, train_tokens, out / "bank_drift.png")
    table = drift_table(records, max_tokens)
    (out / "bank_drift.md").write_text(table)
    return table
