"""docs/reproduction.md, amendment 29: the figures of the rows at amendment 23's budget. `heatmap.png`: qa1 accuracy
per model (its seeds' questions pooled) and length, 0k-64k, the cells amendment 29's `table.py` prints; a cell not
(yet) evaluated is grey. `learning_curves.png`: each run's validation accuracy through its three fine-tuning stages
(amendment 20's 3,000 steps on 1..16 segments, amendment 21's 500 on 1..32 then 1..64, amendment 23's 1,000 on
1..64), at 0k and on the stage's longest inputs, against the fine-tuning step counted from amendment 20's first.
Usage: python results/reproduction/amendment29/figures.py [--out FOLDER]   (default: this folder)"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
from pathlib import Path

R = Path(__file__).resolve().parent.parent
STAGES = (("amendment20", ""), ("amendment21", "L"), ("amendment23", "XL"))  # (folder, prefix of the run's name)


def _table():
    spec = importlib.util.spec_from_file_location("amendment29_table", Path(__file__).with_name("table.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def heatmap_rows(table=None) -> dict[str, list[float]]:
    """Accuracy (%) per row of `table.py` and length of its LENGTHS, NaN where not evaluated; rows not evaluated at
    all are left out."""
    table = table or _table()
    rows = {}
    for row, runs in table.ROWS.items():
        pooled = table.pooled(runs)
        if pooled is not None:
            name = f"{row.replace('`', '')} ({', '.join(runs)})"
            rows[name] = [100 * pooled[n][0] if n in pooled else math.nan for n in table.LENGTHS]
    return rows


def curve(run: str) -> list[tuple[int, float, float, str]]:
    """(step from amendment 20's first, accuracy % at 0k, accuracy % on the longest validation input, its name) at
    every validation of the run `run` (amendment 23's name, e.g. XLBL0) and of the stages it started from."""
    points, offset = [], 0
    for folder, prefix in STAGES:
        path = R / folder / f"run-{prefix}{run.removeprefix('XL')}" / "metrics.jsonl"
        if not path.is_file():
            break
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for e in (r["eval"] for r in records if "eval" in r):
            accuracy = e["accuracy"]
            longest = max(accuracy, key=lambda k: int(k.split("/")[1].removesuffix("seg")))
            points.append((offset + e["step"], 100 * accuracy["qa1/0seg"], 100 * accuracy[longest], longest))
        offset += max(r["step"] for r in records if "step" in r)
    return points


def plot(out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LinearSegmentedColormap

    from lm2.evaluation.report import ACCURACY_COLOURS
    from lm2.files import save_atomic

    out.mkdir(parents=True, exist_ok=True)
    table = _table()
    rows = heatmap_rows(table)
    colours = LinearSegmentedColormap.from_list("accuracy", ACCURACY_COLOURS)
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(rows) + 1.6), layout="constrained")
    image = ax.imshow(list(rows.values()), cmap=colours.with_extremes(bad="#d9d9d9"), vmin=0, vmax=100, aspect="auto")
    for i, values in enumerate(rows.values()):
        for j, value in enumerate(values):
            ax.text(j, i, "—" if math.isnan(value) else f"{value:.1f}", ha="center", va="center", fontsize=9)
    ax.set_xticks(range(len(table.LENGTHS)), table.LENGTHS)
    ax.set_yticks(range(len(rows)), list(rows))
    ax.set_xlabel("context length (qa1, bAbI test split, 100 questions per seed and cell)")
    ax.set_title("qa1 at amendment 23's budget, seeds pooled (chance 16.7 %)", fontsize=10)
    fig.colorbar(image, ax=ax, label="accuracy (%)")
    written = [save_atomic(out / "heatmap.png", lambda tmp: fig.savefig(tmp, dpi=120, format="png"))]
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True, layout="constrained")
    runs = [run for runs in table.ROWS.values() for run in runs]
    colour_of = {}
    for run in dict.fromkeys(runs):
        points = curve(run)
        if not points:
            continue
        colour = colour_of.setdefault(run[:-1], f"C{len(colour_of)}")
        style = "-" if run.endswith("0") else "--"
        steps, zero, longest, _ = zip(*points, strict=True)
        axes[0].plot(steps, zero, style, color=colour, marker=".", label=run)
        axes[1].plot(steps, longest, style, color=colour, marker=".", label=run)
    for ax, title in zip(axes, ("validation at 0k", "validation on the stage's longest inputs (1 → 64 segments)"),
                         strict=True):  # fmt: skip
        for step in (3000, 3500):
            ax.axvline(step, color="grey", linestyle=":")
        ax.axhline(95, color="grey", linestyle="--", linewidth=0.8)
        ax.set(xlabel="fine-tuning step (amendments 20 | 21 | 23)", title=title)
    axes[0].set_ylabel("qa1 validation accuracy (%)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    written.append(save_atomic(out / "learning_curves.png", lambda tmp: fig.savefig(tmp, dpi=120, format="png")))
    plt.close(fig)
    return written


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="folder for the two PNGs")
    for path in plot(p.parse_args().out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
