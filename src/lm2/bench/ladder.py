"""The memory ladder (DESIGN §8): does a memory hold at length?

Synthetic tasks with known answers, every model on one backbone, trained on mixed input lengths up to
`train_segments` segments and scored at 1x, 4x, 16x, 64x and 256x that longest training input:
- `recall`: one key→value pair in the first segment, noise after, the key asked at the end;
- `capacity`: the same with four pairs, one of them asked;
- `track`: assignments in every segment, later ones overwrite, the latest value of one key asked (bAbI qa1's
  structure; its "last value seen" shortcut is reported beside it, as capacity's "stored values" one).
Reported per cell (task, model, seed): accuracy at each length, with chance and shortcut, and the mean norm
of the memory rows after each length (LM2 bank rows, RMT memory tokens). A memory that holds keeps its
training-length accuracy and a bounded norm at every length.

Each cell is one job (`ladder_cell`) that writes its own JSON file, so a killed run resumes with the cells it
has not finished; `collect` gathers the files of one plan into the results.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from lm2.data.recall import RecallTask
from lm2.data.track import TrackTask
from lm2.files import save_atomic, write_atomic
from lm2.model.flops import parameter_counts
from lm2.model.variants import variant_config
from lm2.training.recall import Task, task_report, train_recall

from .common import markdown_table

MULTIPLES = (1, 4, 16, 64, 256)
TASKS = ("recall", "capacity", "track")


@dataclass(frozen=True)
class LadderPlan:
    """Everything that decides a ladder's numbers; cells of one plan share it (checked on resume)."""

    tasks: tuple[str, ...] = TASKS
    models: tuple[str, ...] = ("lm2", "lm2-paper", "rmt")
    seeds: tuple[int, ...] = (0, 1)
    segment_length: int = 16
    train_segments: int = 8  # the longest training input, in segments; training draws 1 (2 for recall)..n
    # Stage maxima of a curriculum (e.g. (2, 4, 8, 16)): the steps split into equal stages, stage i drawing
    # 1 (2 for recall)..curriculum[i] segments; the last is `train_segments`. Empty: one stage, 1..n throughout.
    curriculum: tuple[int, ...] = ()
    multiples: tuple[int, ...] = MULTIPLES
    steps: int = 600
    batch_size: int = 32
    lr: float = 3e-3
    samples: int = 128  # held-out questions per length
    max_full_tokens: int = 4096  # full-attention `vanilla` is scored only up to this input length
    backbone: dict[str, Any] = field(
        default_factory=lambda: {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_memory_tokens": 4,
        }
    )

    def __post_init__(self) -> None:
        stages = list(self.curriculum)
        if stages and (stages != sorted(set(stages)) or stages[0] < 1 or stages[-1] != self.train_segments):
            raise ValueError(f"curriculum={stages} must rise strictly from at least 1 to train_segments="
                             f"{self.train_segments}")  # fmt: skip

    def task(self, name: str) -> Task:
        """The task `name` at the longest training length."""
        common = {"segment_length": self.segment_length, "segments": self.train_segments}
        if name == "recall":
            return RecallTask(pairs=1, **common)
        if name == "capacity":
            return RecallTask(pairs=4, **common)
        if name == "track":
            return TrackTask(keys=4, per_segment=1, **common)
        raise ValueError(f"ladder task {name!r} is not known; choose from {', '.join(TASKS)}")

    def train_lengths(self, name: str, longest: int | None = None) -> list[int]:
        """Segment counts a training run (or a curriculum stage) cycles through: 1..n, n = `longest` or
        `train_segments` (recall needs 2: the fact, then the question)."""
        shortest = 2 if isinstance(self.task(name), RecallTask) else 1
        longest = self.train_segments if longest is None else longest
        if longest < shortest:
            raise ValueError(f"curriculum={list(self.curriculum)} starts at {longest} segments; the {name} task "
                             f"needs at least {shortest}")  # fmt: skip
        return list(range(shortest, longest + 1))

    def train_stages(self, name: str) -> list[list[int]]:
        """The segment counts of each training stage (`train_recall`'s curriculum): one stage without one."""
        return [self.train_lengths(name, n) for n in self.curriculum or (self.train_segments,)]

    def cells(self) -> list[tuple[str, str, int]]:
        return [(t, m, s) for t in self.tasks for m in self.models for s in self.seeds]

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))  # tuples as lists, as a reloaded file has them


# The config fields that make a variant what it is (the rest is the plan's backbone): what a cell records, so
# that a cell trained under a name whose meaning has since changed (`lm2` when LM2Config's defaults move) is
# not taken for the model the name means today.
MODEL_FIELDS = ("arch", "forget_bias", "input_bias", "forget_floor", "write_penalty", "write_penalty_warmup",
                "vanilla_mode", "num_memory_tokens")  # fmt: skip


# Fields added after cells began recording their model, with the value every model had before: a cell that
# does not record one was trained with that value.
LATER_FIELDS = {"memory_candidate": "read", "write_penalty_warmup": 0, "memory_gate_grad": "exact",
                "memory_read_center": False, "memory_read_center_fraction": None,
                "memory_write": "rows", "memory_row_clip": False, "memory_address": "dot",
                "memory_address_strength": 10.0, "armt_write": "joint"}  # fmt: skip
# Fields that act only in the LM2 bank: a change of their defaults does not change an RMT, ARMT or vanilla model.
LM2_ONLY_FIELDS = ("forget_bias", "input_bias", "forget_floor", "write_penalty", "write_penalty_warmup",
                   "memory_read_norm", "memory_read_center", "memory_read_center_fraction", "memory_update",
                   "memory_gates", "memory_gate_grad", "memory_candidate", "memory_preset",
                   "memory_write", "memory_row_clip", "memory_address", "memory_address_strength")  # fmt: skip


def model_fields(plan: LadderPlan, task: str, model: str) -> dict[str, Any]:
    """The fields that define `model` on this plan's backbone today (`MODEL_FIELDS`, every `memory_*` and
    `armt_*` field), as a cell file records them."""
    base = plan.task(task)
    config = variant_config(model, plan.backbone, vocab_size=base.vocab_size, segment_length=plan.segment_length)
    fields = config.to_dict()
    chosen = {k: v for k, v in fields.items() if k in MODEL_FIELDS or k.startswith(("memory_", "armt_"))}
    return json.loads(json.dumps(chosen))  # as read back from a file (lists, not tuples)


def changed_model(plan: LadderPlan, out: Path, unrecorded: bool = False) -> list[tuple[Path, list[str]]]:
    """The finished cells of `plan` under `out` that record a model other than the one their name means
    today, each with the fields that differ; with `unrecorded`, also the cells written before cells recorded
    their model (fields `["config"]`), which cannot be checked."""
    changed = []
    for task, model, seed in plan.cells():
        path = cell_path(out, task, model, seed)
        if not path.exists():
            continue
        recorded = json.loads(path.read_text()).get("config")
        if recorded is None:
            if unrecorded:
                changed.append((path, ["config"]))
            continue
        recorded = {**LATER_FIELDS, **recorded}
        today = model_fields(plan, task, model)
        ignored = LM2_ONLY_FIELDS if today.get("arch") != "lm2" else ()
        names = (recorded.keys() | today.keys()) - set(ignored)
        fields = sorted(k for k in names if recorded.get(k) != today.get(k))
        if fields:
            changed.append((path, fields))
    return changed


def ladder_cell(plan: LadderPlan, task: str, model: str, seed: int, on_step=None) -> dict[str, Any]:
    """Train `model` on `task` with `seed` and score it at every length of the plan."""
    base = plan.task(task)
    config = variant_config(model, plan.backbone, vocab_size=base.vocab_size, segment_length=plan.segment_length)
    start = time.time()
    run = train_recall(
        config, base, plan.steps, plan.batch_size, plan.lr, seed, curriculum=plan.train_stages(task),
        on_step=on_step,
    )  # fmt: skip
    trained = time.time() - start
    accuracy, norm, share = {}, {}, {}
    for multiple in plan.multiples:
        segments = multiple * plan.train_segments
        if config.segment_span is None and segments * plan.segment_length > plan.max_full_tokens:
            continue  # full attention past its memory budget: not scored
        report = task_report(run.model, base, plan.samples, 1000 + seed, segments)
        accuracy[multiple], norm[multiple] = report["accuracy"], report["norm"]
        share[multiple] = report["shortcut_share"]
    return {
        "task": task,
        "model": model,
        "seed": seed,
        "parameters": parameter_counts(config)["total"],
        "accuracy": accuracy,
        "norm": norm,
        "shortcut_share": share,
        "final_loss": statistics.fmean(run.losses[-50:]) if run.losses else None,
        "loss_curve": loss_curve(run.losses, plan.steps),
        "diverged_at": run.diverged_at,
        "train_seconds": round(trained, 1),
        "eval_seconds": round(time.time() - start - trained, 1),
        "config": model_fields(plan, task, model),
    }


def loss_curve(losses: list[float], steps: int, points: int = 48) -> list[list[float]]:
    """The training loss as `points` (step, mean loss) pairs: `steps` split into equal windows (to one step;
    a curriculum's stages, split the same way, begin at window boundaries when `points` is a multiple of
    their number), each pair the window's last step and its mean loss; a run that stopped early (diverged)
    ends at its last full window."""
    windows = min(points, steps)
    bounds = [steps * i // windows for i in range(windows + 1)]
    return [[end, statistics.fmean(losses[start:end])]
            for start, end in zip(bounds, bounds[1:], strict=False) if end <= len(losses)]  # fmt: skip


def run_cell(plan: LadderPlan, task: str, model: str, seed: int, out: str, on_step=None) -> str:
    """`ladder_cell`, written to its own file under `out` (atomically: a killed job leaves no cell file)."""
    torch.set_flush_denormal(True)  # a bank decaying into denormals is several times slower on x86
    result = ladder_cell(plan, task, model, seed, on_step)
    path = cell_path(Path(out), task, model, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(result, indent=1))
    return str(path)


# Plan settings added after ladders began saving theirs, with the value every earlier ladder had.
LATER_SETTINGS = {"curriculum": []}


def settings(plan: LadderPlan) -> dict[str, Any]:
    """What decides a cell's numbers besides its task, model and seed: runs that agree on it share a folder."""
    return {k: v for k, v in plan.to_json().items() if k not in ("tasks", "models", "seeds")}


def saved_plan(out: str | Path, **fields: Any) -> LadderPlan:
    """The plan of the ladder saved in `out` (its settings.json, a setting added since with the value earlier
    ladders had), with `fields` (tasks, models, seeds, or a setting replaced): how a script trains a cell exactly
    as the folder's were trained."""
    saved = {**LATER_SETTINGS, **json.loads((Path(out) / "settings.json").read_text())}
    return LadderPlan(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()} | fields)


def baselines(plan: LadderPlan) -> dict[str, dict[str, Any]]:
    """Chance per task, and each task's shortcut at every length: track's "last value seen"; capacity's
    "stored values" (which values the pairs hold, not which key holds which: `RecallTask.shortcut`, with its
    loss). Recall with one pair has none: knowing the stored value is the task."""
    out = {}
    for name in plan.tasks:
        task = plan.task(name)
        entry: dict[str, Any] = {"chance": task.chance}
        if isinstance(task, TrackTask):
            lengths = {m: m * plan.train_segments for m in plan.multiples}
            entry["shortcut"] = {m: replace(task, segments=s).shortcut_accuracy() for m, s in lengths.items()}
            entry["shortcut_name"] = "last-value"
        elif task.pairs > 1:
            accuracy, entry["shortcut_loss"] = task.shortcut()
            entry["shortcut"] = dict.fromkeys(plan.multiples, accuracy)
            entry["shortcut_name"] = "stored-values"
        out[name] = entry
    return out


def cell_path(out: Path, task: str, model: str, seed: int) -> Path:
    return out / "cells" / f"{task}-{model}-seed{seed}.json"


def collect(plan: LadderPlan, out: Path) -> dict[str, Any]:
    """The plan, its baselines and every finished cell under `out` (JSON keys as written: lengths are strings)."""
    cells = []
    for task, model, seed in plan.cells():
        path = cell_path(out, task, model, seed)
        if path.exists():
            cells.append(json.loads(path.read_text()))
    return {"plan": plan.to_json(), "baselines": json.loads(json.dumps(baselines(plan))), "cells": cells}


def summary(results: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(task, model) → mean, min and max accuracy over seeds and mean norm per length (string keys)."""
    grouped: dict[tuple[str, str], list[dict]] = {}
    for cell in results["cells"]:
        grouped.setdefault((cell["task"], cell["model"]), []).append(cell)
    out = {}
    for key, cells in grouped.items():
        lengths = [m for m in cells[0]["accuracy"]]
        acc = {m: [c["accuracy"][m] for c in cells] for m in lengths}
        norms = {m: [c["norm"][m] for c in cells if c["norm"].get(m) is not None] for m in lengths}
        out[key] = {
            "seeds": len(cells),
            "diverged": {c["seed"]: c.get("diverged_at") for c in cells if diverged(c)},
            "mean": {m: statistics.fmean(v) for m, v in acc.items()},
            "min": {m: min(v) for m, v in acc.items()},
            "max": {m: max(v) for m, v in acc.items()},
            "norm": {m: statistics.fmean(v) for m, v in norms.items() if v},
        }
    return out


def diverged(cell: dict[str, Any]) -> bool:
    """Whether a cell's training hit a non-finite loss (cells written before `diverged_at` existed show it as a
    NaN final loss)."""
    loss = cell.get("final_loss")
    return cell.get("diverged_at") is not None or (loss is not None and not math.isfinite(loss))


def ladder_table(results: dict[str, Any]) -> str:
    """One Markdown table per task: accuracy (%) per length, mean over seeds with the seeds' range, and the
    memory norm at the training length → the longest length."""
    plan, stats = results["plan"], summary(results)
    lengths = [str(m) for m in plan["multiples"]]
    tokens = [int(m) * plan["train_segments"] * plan["segment_length"] for m in lengths]
    blocks = []
    for task in plan["tasks"]:
        base = results["baselines"][task]
        headers = ["model", "seeds"] + [f"{m}× ({t:,} tok)" for m, t in zip(lengths, tokens, strict=True)]
        headers.append(f"norm {lengths[0]}× → {lengths[-1]}×")
        rows = []
        for model in plan["models"]:
            entry = stats.get((task, model))
            if entry is None:
                continue
            cells = [_percent(entry, m) for m in lengths]
            norm = entry["norm"]
            drift = f"{norm[lengths[0]]:.3g} → {norm[lengths[-1]]:.3g}" if lengths[-1] in norm else "—"
            seeds = str(entry["seeds"])
            if entry["diverged"]:
                runs = (f"s{seed} diverged" + (f" at step {n}" if n else "") for seed, n in entry["diverged"].items())
                seeds += f" ({', '.join(runs)})"
            rows.append([model, seeds, *cells, drift])
        line = f"chance {100 * base['chance']:.1f} %"
        if "shortcut" in base:
            line += f"; {base.get('shortcut_name', 'last-value')} shortcut " + _shortcut_text(base, lengths) + " %"
        blocks.append(f"**{task}** ({line})\n\n" + markdown_table(headers, rows))
    return "\n\n".join(blocks)


def _shortcut_text(base: dict[str, Any], lengths: list[str]) -> str:
    """The shortcut's accuracy (%) at each length, or once when it is the same at every length."""
    shown = [f"{100 * base['shortcut'][m]:.0f}" for m in lengths]
    return shown[0] if len(set(shown)) == 1 else ", ".join(shown)


def _percent(entry: dict[str, Any], length: str) -> str:
    if length not in entry["mean"]:
        return "—"
    mean, low, high = (100 * entry[k][length] for k in ("mean", "min", "max"))
    return f"{mean:.1f}" if entry["seeds"] == 1 else f"{mean:.1f} ({low:.0f}–{high:.0f})"


def plot_ladder(results: dict[str, Any], path: Path) -> Path:
    """Accuracy (top) and memory norm (middle) against input length, log x, one column per task; below them,
    where the cells record it, the training loss against the step (mean over seeds; dotted lines at the
    curriculum's stages)."""
    from matplotlib.figure import Figure

    plan, stats = results["plan"], summary(results)
    tasks = plan["tasks"]
    curves = any(cell.get("loss_curve") for cell in results["cells"])
    rows = 3 if curves else 2
    fig = Figure(figsize=(4.2 * len(tasks), 3.2 * rows), layout="constrained")
    axes = fig.subplots(rows, len(tasks), squeeze=False)
    unit = plan["train_segments"] * plan["segment_length"]
    for col, task in enumerate(tasks):
        top, bottom = axes[0][col], axes[1][col]
        for model in plan["models"]:
            entry = stats.get((task, model))
            if entry is None:
                continue
            xs = [int(m) * unit for m in entry["mean"]]
            top.errorbar(xs, [100 * v for v in entry["mean"].values()], marker="o", label=model,
                         yerr=[[100 * (entry["mean"][m] - entry["min"][m]) for m in entry["mean"]],
                               [100 * (entry["max"][m] - entry["mean"][m]) for m in entry["mean"]]])  # fmt: skip
            if entry["norm"]:
                bottom.plot([int(m) * unit for m in entry["norm"]], list(entry["norm"].values()), marker="o")
        base = results["baselines"][task]
        top.axhline(100 * base["chance"], color="grey", linestyle=":", label="chance")
        if "shortcut" in base:
            xs = [int(m) * unit for m in base["shortcut"]]
            top.plot(xs, [100 * v for v in base["shortcut"].values()], color="grey", linestyle="--", label="shortcut")
        top.set(title=task, xscale="log", ylabel="accuracy (%)", ylim=(0, 102))
        bottom.set(xscale="log", yscale="log", xlabel=f"input tokens (training: ≤ {unit})", ylabel="memory norm")
        top.legend(fontsize=7)  # per column: a task's models may differ from the others'
        if curves:
            _plot_losses(axes[2][col], results, task)
    return save_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110))


def _plot_losses(ax, results: dict[str, Any], task: str) -> None:
    plan = results["plan"]
    for index, model in enumerate(plan["models"]):
        curves = [c["loss_curve"] for c in results["cells"] if (c["task"], c["model"]) == (task, model)
                  and c.get("loss_curve")]  # fmt: skip
        if curves:
            shortest = min(len(c) for c in curves)
            steps = [point[0] for point in curves[0][:shortest]]
            mean = [statistics.fmean(c[i][1] for c in curves) for i in range(shortest)]
            ax.plot(steps, mean, color=f"C{index}", label=model)
    stages = plan.get("curriculum") or []
    for i in range(1, len(stages)):
        ax.axvline(plan["steps"] * i / len(stages), color="grey", linestyle=":")
    base = results["baselines"][task]
    ax.axhline(math.log(1 / base["chance"]), color="grey", linestyle=":", label="chance")
    if "shortcut_loss" in base:
        ax.axhline(base["shortcut_loss"], color="grey", linestyle="--", label="shortcut")
    ax.set(xlabel="training step", ylabel="training loss (mean of seeds)")
