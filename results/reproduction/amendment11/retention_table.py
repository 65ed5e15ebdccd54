"""docs/reproduction.md, amendment 11a: the `lm2 retention` measurements of retention/<R>-whole and <R>-4096 as two
tables (accuracy by the tokens after the supporting fact, whole input and its last 4,096 tokens only, with the recent
facts' questions answered right on one reading only; the fact's trace), and amendment 11c's trace to 128 later
segments (retention-far/<R>-whole), where measured, with a check that its answers are 11a's.
Usage: python results/reproduction/amendment11/retention_table.py (after `run.sh ret R...` and `run.sh trace R...`)"""

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = ("L", "L1", "L-rmt", "L-armt", "LG0", "LG1", "LD0", "LD1", "LC0", "LC1", "LK0", "LK1")
RUNS += ("LW0", "LW1", "LWK0", "LWK1")
LABELS = {
    "L": "lm2 (L), seed 0",
    "L1": "lm2 (L1), seed 1",
    "L-rmt": "rmt (L-rmt), seed 0",
    "L-armt": "armt (L-armt), seed 0",
    "LG0": "lm2, gated read (LG0)",
    "LG1": "lm2, gated read (LG1)",
    "LD0": "lm2, delta write (LD0)",
    "LD1": "lm2, delta write (LD1)",
    "LC0": "lm2, delta write, bank clipped (LC0)",
    "LC1": "lm2, delta write, bank clipped (LC1)",
    "LK0": "lm2, delta write, cosine address (LK0)",
    "LK1": "lm2, delta write, cosine address (LK1)",
    "LW0": "lm2, delta write, priced on 64 segments (LW0)",
    "LW1": "lm2, delta write, priced on 64 segments (LW1)",
    "LWK0": "lm2, cosine address, priced on 64 segments (LWK0)",
    "LWK1": "lm2, cosine address, priced on 64 segments (LWK1)",
}
STEPS = ("1", "2", "4", "8", "16", "32")
FAR_STEPS = ("32", "64", "128")


def load(folder: str, run: str, keep: str) -> dict | None:
    f = HERE / folder / f"{run}-{keep}" / "retention.json"
    return json.loads(f.read_text()) if f.is_file() else None


def one_side(whole: dict, keep: dict) -> str:
    """On the first bin's questions (the same in both files): right on the whole input only / alone only."""
    recent = whole["by_distance"][0]["to"]
    pairs = [
        (a["correct"], b["correct"])
        for a, b in zip(whole["records"], keep["records"], strict=True)
        if a["distance"] < recent
    ]
    return f"{sum(a and not b for a, b in pairs)} / {sum(b and not a for a, b in pairs)}"


done = [(r, w, load("retention", r, "4096")) for r in RUNS if (w := load("retention", r, "whole"))]
first = done[0][1]["by_distance"]
bins = [f"{b['from']}–{b['to'] - 1}" if b["to"] else f"≥ {b['from']}" for b in first]
print(
    "| model | all | " + " | ".join(bins) + f" | {bins[0]}, last 4,096 only | all, last 4,096 only "
    f"| {bins[0]}: right on the whole input only / alone only |"
)
print("|---|" + "---:|" * (len(bins) + 4))
for run, whole, keep in done:
    cells = [f"{100 * whole['accuracy']:.1f}"] + [f"{100 * b['accuracy']:.1f}" for b in whole["by_distance"]]
    cells += (
        [f"{100 * keep['by_distance'][0]['accuracy']:.1f}", f"{100 * keep['accuracy']:.1f}", one_side(whole, keep)]
        if keep
        else ["", "", ""]
    )
    print(f"| {LABELS[run]} | " + " | ".join(cells) + " |")
print("| last-label shortcut | | " + " | ".join(f"{100 * b['last_label']:.1f}" for b in first) + " | | | |")
print("(samples per bin: " + " / ".join(str(b["samples"]) for b in first) + ")")

print("\n| model | " + " | ".join(f"k = {k}" for k in STEPS) + " | own row at k = 0 / 8 / 32 |")
print("|---|" + "---:|" * len(STEPS) + "---|")
for run, whole, _ in done:
    steps = whole["trace"]["steps"]
    own = [steps[k].get("own_row_share") for k in ("0", "8", "32")]
    own_text = " / ".join(f"{x:.2f}" for x in own) if None not in own else "–"
    print(f"| {LABELS[run]} | " + " | ".join(f"{steps[k]['median']:.2f}" for k in STEPS) + f" | {own_text} |")

far = [(r, w) for r in RUNS if (w := load("retention-far", r, "whole"))]
if far:
    print("\namendment 11c, the trace further (retention-far/):\n")
    print("| model | all | " + " | ".join(f"k = {k} (inputs)" for k in FAR_STEPS) + " | own row at k = 128 |")
    print("|---|---:|" + "---:|" * len(FAR_STEPS) + "---:|")
    for run, whole in far:
        steps = whole["trace"]["steps"]
        text = [f"{steps[k]['median']:.2f} ({steps[k]['inputs']})" if k in steps else "–" for k in FAR_STEPS]
        own = steps.get("128", {}).get("own_row_share")
        own_text = f"{own:.2f}" if own is not None else "–"
        print(f"| {LABELS[run]} | {100 * whole['accuracy']:.1f} | " + " | ".join(text) + f" | {own_text} |")
    for run, whole in far:
        before = next(w for r, w, _ in done if r == run)
        same = [a["correct"] for a in whole["records"]] == [a["correct"] for a in before["records"]] and all(
            whole["trace"]["steps"][k] == v for k, v in before["trace"]["steps"].items()
        )
        print(f"{run}: answers and trace to 32 segments {'the same as' if same else 'NOT the same as'} 11a's")
