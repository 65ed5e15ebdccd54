"""The curve of one or more `lm2 train` runs from their metrics.jsonl: a Markdown table (validation accuracy,
smoothed training loss and wall time at every validation) and a PNG of validation accuracy against minutes.

    python scripts/training_curve.py runs/tiny-cpu-babilong --png curve.png
    python scripts/training_curve.py real=runs/a generated=runs/b --png both.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load(run: Path) -> tuple[list[dict], list[dict]]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in records if "loss" in r], [r["eval"] for r in records if "eval" in r]


def table(name: str, losses: list[dict], evals: list[dict]) -> str:
    start = losses[0]["time"]
    rows = [f"| {name} step | minutes | stage | training loss (last 10 logs) | validation accuracy |",
            "|---:|---:|---:|---:|---:|"]  # fmt: skip
    for e in evals:
        before = [r for r in losses if r["step"] <= e["step"]]
        recent = [r["loss"] for r in before[-10:]]
        stage = before[-1].get("stage", 0) if before else 0
        accuracy = next(iter(e["accuracy"].values()))
        minutes = (before[-1]["time"] - start) / 60 if before else 0.0
        loss = sum(recent) / len(recent)
        rows.append(f"| {e['step']} | {minutes:.1f} | {stage} | {loss:.3f} | {100 * accuracy:.1f} % |")
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run folders, optionally NAME=FOLDER")
    p.add_argument("--png", type=Path, help="write the accuracy curve here")
    a = p.parse_args()
    runs = {}
    for spec in a.runs:
        name, _, folder = spec.rpartition("=")
        runs[name or Path(folder).name] = load(Path(folder))
    for name, (losses, evals) in runs.items():
        print(table(name, losses, evals), end="\n\n")
    if a.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for name, (losses, evals) in runs.items():
            start = losses[0]["time"]
            times = {r["step"]: (r["time"] - start) / 60 for r in losses}
            points = [(times.get(e["step"], 0.0), 100 * next(iter(e["accuracy"].values()))) for e in evals]
            ax.plot(*zip(*points, strict=True), marker="o", label=name)
        ax.axhline(95, color="grey", linestyle=":", label="target 95 %")
        ax.axhline(52.7, color="grey", linestyle="--", label="last-location shortcut 52.7 %")
        ax.set(xlabel="minutes of training", ylabel="validation accuracy (%)", title="qa1 at 0k, tiny LM2, 2 CPU cores")
        ax.legend()
        fig.tight_layout()
        fig.savefig(a.png, dpi=120)
        print(f"wrote {a.png}")


if __name__ == "__main__":
    main()
