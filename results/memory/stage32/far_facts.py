"""Stage 32 (docs/memory.md): the two-seed means of `lm2 retention` at 1,024 tokens, per distance bin, for the stages
named (default 31 and 32), from their `retention/seed<S>/retention.json`: each bin's accuracy averaged over the seeds
(the mean of the two seeds' %, as stages 30b and 31 state it), the same over the answers pooled, and the last-label
shortcut's mean. Usage: python results/memory/stage32/far_facts.py [STAGE...]"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(stages: list[str]) -> None:
    for stage in stages:
        seeds = sorted((HERE.parent / stage / "retention").glob("seed*/retention.json"))
        runs = [json.loads(f.read_text())["by_distance"] for f in seeds]
        print(f"{stage} ({', '.join(f.parent.name for f in seeds)}):")
        for bins in zip(*runs, strict=True):
            top = "" if bins[0]["to"] is None else f"-{bins[0]['to'] - 1}"
            mean = 100 * sum(b["accuracy"] for b in bins) / len(bins)
            pooled = 100 * sum(b["correct"] for b in bins) / sum(b["samples"] for b in bins)
            shortcut = 100 * sum(b["last_label"] for b in bins) / len(bins)
            seeds_text = " / ".join(f"{100 * b['accuracy']:.1f}" for b in bins)
            print(
                f"  {bins[0]['from']}{top or '+'} tokens back: mean {mean:.1f} % ({seeds_text}), pooled {pooled:.1f} % "
                f"of {sum(b['samples'] for b in bins)}, last-label shortcut {shortcut:.1f} %"
            )


if __name__ == "__main__":
    main(sys.argv[1:] or ["stage31", "stage32"])
