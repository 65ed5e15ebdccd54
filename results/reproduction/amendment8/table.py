"""docs/reproduction.md, amendment 8: the 10M-parameter pretraining's numbers from the files the GPU calls returned,
and per seed the perplexity curves (seed<S>/perplexity/position_loss.png, as the study's report draws round 1's).
Usage: python results/reproduction/amendment8/table.py"""

import json
from pathlib import Path

from lm2.evaluation.perplexity import load_perplexity
from lm2.evaluation.study import plot_position_loss

HERE = Path(__file__).resolve().parent
MODELS = ("lm2", "lm2-noprice", "lm2-paper", "rmt", "armt", "vanilla", "vanilla-segmented")
ppl = {}
for seed in (0, 1):
    run = HERE / f"seed{seed}"
    for m in MODELS:
        rows = [json.loads(line) for line in (run / "pretrain" / m / "metrics.jsonl").read_text().splitlines()]
        losses = [r["loss"] for r in rows if "loss" in r and "eval" not in r]
        evals = [r["eval"]["val_loss"] for r in rows if "eval" in r]
        times = [r["time"] for r in rows if "time" in r]
        contexts = json.loads((run / "perplexity" / m / "perplexity.json").read_text())["contexts"]
        ppl[seed, m] = [contexts[c]["perplexity"] for c in ("1000", "4000", "16000")]
        print(
            f"seed {seed} {m:18s} train loss (last 5 logs) {sum(losses[-5:]) / 5:.3f}  val {evals[-1]:.3f}  "
            f"{(times[-1] - times[0]) / 60:.1f} min  ppl 1k/4k/16k " + " / ".join(f"{p:.2f}" for p in ppl[seed, m])
        )
for seed in (0, 1):
    folder = HERE / f"seed{seed}" / "perplexity"
    plot_position_loss({m: load_perplexity(folder / m) for m in MODELS}, folder / "position_loss.png")
print("\n16k perplexity against vanilla-segmented (same span, no memory), per seed, %:")
for m in MODELS:
    print(
        f"{m:18s}",
        "  ".join(f"{100 * (ppl[s, m][2] / ppl[s, 'vanilla-segmented'][2] - 1):+.1f}" for s in (0, 1)),
        "  1k->16k:",
        "  ".join(f"{100 * (ppl[s, m][2] / ppl[s, m][0] - 1):+.2f}" for s in (0, 1)),
    )
