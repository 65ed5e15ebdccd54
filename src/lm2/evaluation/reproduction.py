"""The report of the reproduction study (scripts/reproduce.sh, docs/reproduction.md), from the files under
results/repro/: the paper-layout table and heatmaps (`lm2 compare`), the training curves of the three runs,
and the issue's targets checked against the evaluation (`write_report`, run by `scripts/repro_report.py`).

When the bank-size ablation has been run (`ARCHS="lm2-bank16 lm2-bank64" RESULTS=results/repro/ablations
scripts/reproduce.sh`: LM2 retrained with banks of 16 and 64 rows), the report also covers it (`bank_size`).
"""

from __future__ import annotations

import json
from pathlib import Path

from lm2.evaluation.report import compare, mean_accuracy
from lm2.evaluation.results import load_results
from lm2.files import save_atomic

ARCHS = ("lm2", "rmt", "vanilla")
TASKS = ("qa1", "qa2", "qa3", "qa4", "qa5")
LONG = ("4k", "8k", "16k")
TARGETS = {"lm2 / rmt (qa1-qa5, 4k-16k)": 1.3, "lm2 / vanilla (qa1-qa5, 4k-16k)": 1.5, "lm2 qa1 16k": 0.9}


def targets(runs: dict[str, dict]) -> dict:
    """The issue's targets: LM2's mean over qa1-qa5 × 4k-16k against RMT's and vanilla's, LM2 on qa1 at 16k."""
    means = {arch: mean_accuracy(results, TASKS, LONG) for arch, results in runs.items()}
    qa1 = mean_accuracy(runs["lm2"], ["qa1"], ["16k"])
    ratio = {other: (means["lm2"] / means[other] if means["lm2"] is not None and means[other] else None)
             for other in ("rmt", "vanilla")}  # fmt: skip
    values = dict(zip(TARGETS, [ratio["rmt"], ratio["vanilla"], qa1], strict=True))
    return {
        "mean_qa1_qa5_4k_16k": means,
        "checks": {
            name: {"value": value, "target": goal, "met": value is not None and value >= goal}
            for (name, goal), value in zip(TARGETS.items(), values.values(), strict=True)
        },  # fmt: skip
    }


def read_metrics(path: Path) -> tuple[list[dict], list[dict]]:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in records if "loss" in r], [r["eval"] for r in records if "eval" in r]


def curves_table(name: str, losses: list[dict], evals: list[dict]) -> str:
    """Validation accuracy per task (at the stage's length) with minutes and the smoothed training loss."""
    start = losses[0]["time"]
    rows = [f"| {name} step | minutes | segments | loss (last 10 logs) | " + " | ".join(TASKS) + " | mean |",
            "|---:|---:|---:|---:|" + "---:|" * (len(TASKS) + 1)]  # fmt: skip
    for e in evals:
        before = [r for r in losses if r["step"] <= e["step"]] or losses[:1]
        loss = sum(r["loss"] for r in before[-10:]) / len(before[-10:])
        by_task = {key.split("/")[0]: value for key, value in e["accuracy"].items()}
        segments = next(iter(e["accuracy"])).split("/")[1].removesuffix("seg")
        cells = [f"{100 * by_task[t]:.0f}" if t in by_task else "—" for t in TASKS]
        minutes = (before[-1]["time"] - start) / 60
        rows.append(f"| {e['step']} | {minutes:.1f} | {segments} | {loss:.3f} | " + " | ".join(cells)
                    + f" | {100 * e['stage_accuracy']:.1f} |")  # fmt: skip
    return "\n".join(rows)


def plot_curves(metrics: dict[str, tuple[list[dict], list[dict]]], path: Path, segment_tokens: int = 0) -> None:
    """Loss and validation curves; stage changes are marked with the first run's segments (or, given its
    `segment_tokens`, with tokens: runs with different segment lengths share the stages' token counts)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, (losses, evals) in metrics.items():
        steps = [r["step"] for r in losses]
        smooth = [sum(r["loss"] for r in losses[max(0, i - 9) : i + 1]) / len(losses[max(0, i - 9) : i + 1])
                  for i in range(len(losses))]  # fmt: skip
        left.plot(steps, smooth, label=name)
        right.plot([e["step"] for e in evals], [100 * e["stage_accuracy"] for e in evals], marker="o", label=name)
    losses = next(iter(metrics.values()))[0]
    for a, b in zip(losses, losses[1:], strict=False):
        if b.get("stage") != a.get("stage"):
            for ax in (left, right):
                ax.axvline(b["step"], color="grey", linestyle=":", linewidth=0.8)
            label = f"{b['segments']} seg"
            if segment_tokens:
                label = f"{b['segments'] * segment_tokens} tokens" if b["segments"] else "facts only"
            right.text(b["step"], 2, f" {label}", fontsize=7, color="grey")
    left.set(xlabel="step", ylabel="answer loss (10-log mean)", yscale="log", title="training loss")
    right.set(xlabel="step", ylabel="validation accuracy, qa1-qa5 mean (%)", ylim=(0, 100),
              title="validation at the current stage's length")  # fmt: skip
    for ax in (left, right):
        ax.legend()
    fig.tight_layout()
    save_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120))
    plt.close(fig)


def timing(losses: list[dict], results: dict) -> dict:
    return {"training_minutes": round((losses[-1]["time"] - losses[0]["time"]) / 60, 1),
            "evaluation_minutes": round(results["wall_seconds"] / 60, 1),
            "parameters": results["model"]["parameters"]}  # fmt: skip


def bank_size(root: Path) -> str | None:
    """The bank-size ablation: the study's LM2 (root/lm2, a bank of 32 rows) against the LM2 models retrained with
    other banks under root/ablations/lm2-bank*/ (same tokens per curriculum stage), ordered by their bank size
    (`memory_slots` of each evaluated model), or None when none was run."""
    found = [d for d in (root / "ablations").glob("lm2-bank*") if (d / "eval" / "results.json").exists()]
    if not found:
        return None
    evaluated = [(d, load_results(d / "eval")) for d in [root / "lm2", *found]]
    runs = sorted(((r["model"]["config"]["memory_slots"], d, r) for d, r in evaluated), key=lambda run: run[0])
    names = [f"lm2, bank {rows}" for rows, _, _ in runs]
    out = root / "ablations" / "bank_size"
    out.mkdir(parents=True, exist_ok=True)
    table = compare([d / "eval" for _, d, _ in runs], out, names=names)
    metrics = {name: read_metrics(d / "metrics.jsonl") for name, (_, d, _) in zip(names, runs, strict=True)}
    (out / "curves.md").write_text("\n\n".join(curves_table(n, *m) for n, m in metrics.items()) + "\n")
    plot_curves(metrics, out / "training_curves.png", segment_tokens=runs[0][0])
    lines = ["| bank rows (= segment tokens) | parameters | final validation (%) | qa1-qa5, 4k-16k (%) "
             "| qa1 16k (%) | training (min) |", "|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for (rows, _, results), (losses, evals) in zip(runs, metrics.values(), strict=True):
        t, long = timing(losses, results), mean_accuracy(results, TASKS, LONG)
        values = (evals[-1]["stage_accuracy"], long, mean_accuracy(results, ["qa1"], ["16k"]))
        cells = ["—" if v is None else f"{100 * v:.1f}" for v in values]
        lines.append(f"| {rows} | {t['parameters']:,} | " + " | ".join(cells) + f" | {t['training_minutes']} |")
    summary = "\n".join(lines) + "\n"
    (out / "bank_size.md").write_text(summary)
    return table + "\n\n" + summary


def write_report(root: str | Path) -> str:
    """Write comparison.md, comparison.png, training_curves.png, curves.md, timings.json and targets.json
    into `root` (and ablations/bank_size/ when that ablation was run); returns the report's text: the table,
    the timings and the target check."""
    root = Path(root)
    missing = [str(root / arch / "eval" / "results.json") for arch in ARCHS
               if not (root / arch / "eval" / "results.json").exists()]  # fmt: skip
    if missing:
        raise FileNotFoundError(f"missing {', '.join(missing)}; run scripts/reproduce.sh first")
    lines = [compare([root / arch / "eval" for arch in ARCHS], root, names=list(ARCHS))]
    metrics = {arch: read_metrics(root / arch / "metrics.jsonl") for arch in ARCHS}
    (root / "curves.md").write_text("\n\n".join(curves_table(n, *m) for n, m in metrics.items()) + "\n")
    plot_curves(metrics, root / "training_curves.png")
    evaluations = {arch: load_results(root / arch / "eval") for arch in ARCHS}
    timings = {arch: timing(losses, evaluations[arch]) for arch, (losses, _) in metrics.items()}
    (root / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    for arch, t in timings.items():
        lines.append(
            f"{arch}: {t['parameters']:,} parameters, training {t['training_minutes']} min (first to last logged "
            f"step), evaluation {t['evaluation_minutes']} min"
        )
    check = targets(evaluations)
    (root / "targets.json").write_text(json.dumps(check, indent=2) + "\n")
    for name, c in check["checks"].items():
        value = "—" if c["value"] is None else f"{c['value']:.2f}"
        lines.append(f"{name}: {value} (target >= {c['target']}): {'met' if c['met'] else 'NOT met'}")
    banks = bank_size(root)
    if banks is not None:
        lines.append(banks)
    return "\n".join(lines)
