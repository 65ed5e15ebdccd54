"""`lm2 demo`: the main job, on built-in defaults, nothing downloaded.

Act 1, cross-segment recall (the memory ladder's first rung, `lm2 bench memory`): tiny `lm2`, `rmt`, `vanilla`
(full attention) and `vanilla-segmented` (the same segments, no memory) models trained on the same budget to
recall a fact stated in the first segment at the end of the last, on inputs of 2 to 4 segments; scored at the
training length and 4x, 16x and 64x beyond it, with the norm of the memory each length leaves.

Act 2, BABILong: the offline tokenizer, bAbI stories from the offline generator and generated prose as
background text; the reproduction study's models trained on qa1 by its recipe at demo scale (token embeddings at
std 1.0, stories of at most 4 facts at 0k first, then lengths drawn from 1..8 segments of 16 tokens;
docs/training.md, docs/reproduction.md, docs/memory.md "Stage 16"), then evaluated with `lm2 eval` on the bAbI test
split at lengths up to 8x the training length, beside chance and shortcut baselines, and compared with `lm2
compare`. Its LM2 is the study's, `lm2-hard-floor-delta-input` (the delta write), in place of act 1's `lm2`.

Act 3, shipped checkpoints: the reproduction study's fine-tuned models are evaluated on qa1 at 0k, 1k, 4k and
16k, with generated prose as background. By default they are the study's LM2 (the delta write), RMT and ARMT
given equal budgets from the backbone that reads the person (docs/reproduction.md, amendments 23 and 25; seed 0
of each), found under `results/reproduction/` of the current folder (a checkout's root); `--checkpoints DIR` or
$LM2_CHECKPOINTS names another folder of `<name>/model/` folders instead (the first study's are in
`results/repro`). Without any, act 3 is skipped, saying so.

Everything goes to `--out` (default `runs/demo/`): results, tables, heatmaps and training curves. Models
train two at a time in worker processes (one thread each). Killed and started again with the same command,
the demo resumes: finished trainings and evaluation cells are reused. `--acts` runs some of the acts alone;
`summary.json` keeps each act's latest results.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from lm2.cli.common import UsageError, add_command, check_at_least_one, resumable
from lm2.cli.jobs import quiet_transformers, run_jobs
from lm2.files import save_atomic, write_atomic
from lm2.model.variants import DEFAULT_MODELS, VARIANTS, parse_variants

# Act 2's backbone for every model variant (`lm2.model.variants`); act 1 uses `lm2 recall`'s. Untied token
# embeddings at std 1.0 and the other weights at 0.07: the tiny-CPU recipe's initialisation (docs/training.md,
# "What makes it learn"), as in the reproduction study.
BACKBONE = {"hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_memory_tokens": 8, "initializer_range": 0.07, "embedding_init_std": 1.0,
            "tie_word_embeddings": False}  # fmt: skip
# Act 2's curriculum: the first sixth of the steps at 0k on stories of at most 4 facts (where the last-location
# shortcut is often wrong), the rest on lengths drawn from 1..8 segments of 16 tokens (the RMT/ARMT BABILong
# curriculum; 8 segments of 16, not 4 of 32, by docs/memory.md "Stage 16").
BABILONG_ZERO_K_SHARE, BABILONG_MAX_FACTS = 6, 4
# Act 2's steps per model: 1,200 since 2026-12-07 (2,400 before). Both budgets end at the latest-fact shortcut
# (LM2 48 / 45 / 46 / 48 / 43 % at 0k-1,024 tokens with 2,400 steps, 48 / 47 / 46 / 50 / 41 % with 1,200, seed 0),
# and with 2,400 the whole demo took 24.1 min on a slow 2-core AMD EPYC, past its 15-minute budget (README).
BABILONG_STEPS = 1200
# Act 2's models: the reproduction study's (docs/reproduction.md, "Where the study stands"), whose LM2 is the delta
# write on the stage-11 default's gates (`lm2-hard-floor-delta-input`), not the library's default memory, which act 1's
# recall shows; then RMT, ARMT, full attention and the same span without memory, as in act 1.
BABILONG_MODELS = ("lm2-hard-floor-delta-input", *DEFAULT_MODELS[1:])
CHECKPOINTS_ENV = "LM2_CHECKPOINTS"
# Act 3's models without --checkpoints or $LM2_CHECKPOINTS, relative to a checkout's root: the reproduction study's
# memories at equal budgets (docs/reproduction.md, "Where the study stands"), seed 0 of each.
STUDY_MODELS = {
    "lm2": "results/reproduction/amendment23/run-XLBL0/model",  # LM2 with the delta write (amendments 14, 23)
    "rmt": "results/reproduction/amendment23/run-XLBR0/model",
    "armt": "results/reproduction/amendment23/run-XLBA0/model",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "demo", run, description=__doc__)
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder")
    p.add_argument("--models", default="", help=f"acts 1 and 2, comma-separated, from {', '.join(VARIANTS)} "
                   f"(default: act 1 {','.join(DEFAULT_MODELS)}; act 2 {','.join(BABILONG_MODELS)})")  # fmt: skip
    p.add_argument("--recall-steps", type=int, default=600, help="act 1: training steps per model (batch 32)")
    p.add_argument(
        "--babilong-steps", type=int, default=BABILONG_STEPS, help="act 2: training steps per model (batch 16)"
    )
    p.add_argument("--segment-length", type=int, default=16, help="act 2: tokens per segment")
    p.add_argument("--train-segments", type=int, default=8,
                   help="act 2: longest training input in segments (lengths drawn from 1..this); evaluated at "
                        "0k and 1x, 2x, 4x, 8x its tokens")  # fmt: skip
    p.add_argument("--samples", type=int, default=100, help="act 2: test samples per task and length")
    p.add_argument("--checkpoints", type=Path, metavar="DIR", help="act 3: folder of shipped models (<name>/model/); "
                   f"default: ${CHECKPOINTS_ENV}, else the study's under ./results/reproduction")  # fmt: skip
    p.add_argument("--workers", type=int, default=2, help="models trained at once (one CPU thread each)")
    p.add_argument("--device", default="auto", help="auto (cuda when available), cpu or cuda (workers share the GPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--acts", default="1,2,3", help="the acts to run, comma-separated (1 recall, 2 BABILong, "
                   "3 shipped checkpoints)")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="a one-minute smoke run of all three acts")


@resumable  # Ctrl-C: one line, exit 130; the same command reuses the finished trainings and cells
def run(args: argparse.Namespace) -> int:
    from lm2.device import resolve_device

    recall_names, babilong_names = act_models(args.models)
    acts = parse_acts(args.acts)
    check_at_least_one(args, "segment_length", "train_segments", "babilong_steps", "recall_steps", "samples", "workers")
    args.device = str(resolve_device(args.device))
    if args.quick:
        args.recall_steps, args.babilong_steps, args.samples = 40, 30, 8
    args.out.mkdir(parents=True, exist_ok=True)
    quiet_transformers()
    start = time.time()
    # summary.json keeps each act's latest results: running some acts again leaves the others' entries.
    summary_file = args.out / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    summary["settings"] = {k: str(v) for k, v in vars(args).items() if k != "func"}
    if 1 in acts:
        print(f"[1/3] cross-segment recall: {', '.join(recall_names)}, {args.recall_steps} steps each", flush=True)
        if args.device != "cpu":
            print("(act 1 trains on the CPU: its models are too small to gain from a GPU)", flush=True)
        summary["recall"] = recall_act(args, recall_names)
    if 2 in acts:
        print(f"\n[2/3] BABILong qa1: {', '.join(babilong_names)}, {args.babilong_steps} steps each", flush=True)
        summary["babilong"] = babilong_act(args, babilong_names)
    if 3 in acts:
        print("\n[3/3] shipped checkpoints", flush=True)
        summary["checkpoints"] = checkpoints_act(args)
    summary["wall_seconds"] = round(time.time() - start, 1)
    write_atomic(summary_file, json.dumps(summary, indent=2))
    print(f"\ndemo finished in {summary['wall_seconds'] / 60:.1f} min; everything is in {args.out}/", flush=True)
    return 0


def act_models(text: str) -> tuple[list[str], list[str]]:
    """Acts 1 and 2's models: those of `--models` for both when it names any, else each act's own default."""
    if not text:
        return list(DEFAULT_MODELS), list(BABILONG_MODELS)
    names = parse_variants(text, "--models")
    return names, list(names)


def parse_acts(text: str) -> set[int]:
    """`"1,3"` → {1, 3}; `UsageError` naming --acts for anything but a non-empty list drawn from 1, 2, 3."""
    parts = [part.strip() for part in text.split(",")]
    if not all(part in ("1", "2", "3") for part in parts):
        raise UsageError(f"--acts={text!r} must be a comma-separated list drawn from 1, 2 and 3")
    return {int(part) for part in parts}


# -- act 1: recall on the memory ladder -------------------------------------------------------------------
# The ladder's recall rung (`lm2.bench.ladder`): trained on 2..4 segments of 16 tokens (fact in the first,
# question at the end of the last), scored at 1x, 4x, 16x and 64x that length (4,096 tokens).
RECALL_TRAIN_SEGMENTS, RECALL_MULTIPLES = 4, (1, 4, 16, 64)


def recall_plan(args: argparse.Namespace, names: list[str]):
    from lm2.bench.ladder import LadderPlan

    return LadderPlan(tasks=("recall",), models=tuple(names), seeds=(args.seed,), train_segments=RECALL_TRAIN_SEGMENTS,
                      multiples=RECALL_MULTIPLES[:2] if args.quick else RECALL_MULTIPLES, steps=args.recall_steps,
                      samples=16 if args.quick else 128)  # fmt: skip


def recall_act(args: argparse.Namespace, names: list[str]) -> dict:
    """Train each model on recall (a finished cell in `out/recall/cells/` is reused) and print the table."""
    from lm2.bench.ladder import ladder_table
    from lm2.cli.bench_memory import run_ladder

    results = run_ladder(recall_plan(args, names), args.out / "recall", args.workers, "lm2 demo", True)
    print(ladder_table(results))
    return results


# -- act 2: BABILong --------------------------------------------------------------------------------------
def babilong_plan(args: argparse.Namespace) -> dict:
    """Training and evaluation lengths (tokens) of act 2: 0k, then 1..n segments drawn; evaluated 0k, 1x .. 8x."""
    train_segments = args.train_segments
    train_tokens = train_segments * args.segment_length
    lengths = [0, train_tokens, 2 * train_tokens, 4 * train_tokens, 8 * train_tokens]
    if args.quick:
        lengths = [0, train_tokens, 2 * train_tokens]
    return {"train_segments": train_segments, "train_tokens": train_tokens, "lengths": lengths}


def babilong_config(args: argparse.Namespace, name: str, out: Path):
    from lm2.training.config import CurriculumConfig, DataConfig, OptimConfig, RunConfig, TrainConfig

    plan = babilong_plan(args)
    steps = args.babilong_steps
    return TrainConfig(
        model={**BACKBONE, **VARIANTS[name], "segment_length": args.segment_length},
        data=DataConfig(babi_tasks=["qa1"], babi="generate", haystack="prose", validation_samples=50,
                        length_jitter=1.0),
        curriculum=CurriculumConfig(segments=[0, plan["train_segments"]], max_facts=[BABILONG_MAX_FACTS, 0],
                                    draw_segments=True, stage_steps=[max(1, steps // BABILONG_ZERO_K_SHARE), 0]),
        optim=OptimConfig(lr=3e-3, warmup_steps=min(100, steps // 10)),
        run=RunConfig(out=str(out / name), steps=steps, batch_size=16, seed=args.seed, device=args.device,
                      threads=1, eval_every=0, save_every=max(50, steps // 4), log_every=10, progress=False),
    )  # fmt: skip


def babilong_act(args: argparse.Namespace, names: list[str]) -> dict:
    from lm2.evaluation import compare, format_summary, load_results

    out = args.out / "babilong"
    plan = babilong_plan(args)
    jobs = {}
    for name in names:
        config = babilong_config(args, name, out / "train")
        drop_other_settings(config, out / "eval" / name)
        eval_spec = {"lengths": plan["lengths"], "samples": args.samples, "seed": args.seed}
        if babilong_finished(config, eval_spec, out / "eval" / name):
            print(f"act 2: {name} is trained and evaluated in {out}; reused", flush=True)
            continue
        jobs[name] = (babilong_job, {"config": config, "eval_spec": eval_spec, "eval_out": str(out / "eval" / name)})
    if jobs:
        run_jobs(jobs, {name: args.babilong_steps for name in jobs}, args.workers, "lm2 demo")
    paths = [out / "eval" / name / "results.json" for name in names]
    print(f"\ntrained on qa1 at {plan['train_tokens']} tokens ({plan['train_segments']} segments of "
          f"{args.segment_length}); evaluated on the bAbI test split:\n")  # fmt: skip
    first = load_results(paths[0])
    print(format_summary(first).split("\n\n")[0])  # metric, data and baselines header of the first model
    print(baselines_table(first))
    table = compare(paths, out, names)
    print(table)
    curves = plot_curves({name: out / "train" / name / "metrics.jsonl" for name in names}, out / "training_curves.png")
    print(f"table: {out / 'comparison.md'}, heatmaps: {out / 'comparison.png'}, curves: {curves}")
    return {"plan": plan, "results": {name: str(p) for name, p in zip(names, paths, strict=True)}}


def drop_other_settings(config, eval_out: Path) -> None:
    """Remove a training in `config.run.out` made with other settings (its saved configuration is one that
    `config` would not continue: another seed, recipe or model) and its evaluation, so that the demo trains it
    again, as act 1 does with its cells; a training of the same settings is left to resume or be reused."""
    import shutil

    import yaml

    from lm2.training.resume import CONFIG_FILE, trajectory_changes

    saved = Path(config.run.out) / CONFIG_FILE
    if not saved.exists():
        return
    changes = trajectory_changes(yaml.safe_load(saved.read_text()), config)
    if changes:
        fields = ", ".join(field for field, _, _ in changes[:5]) + (", ..." if len(changes) > 5 else "")
        print(f"act 2: {config.run.out} holds a training with other settings ({fields}); training it again",
              flush=True)  # fmt: skip
        shutil.rmtree(config.run.out)
        shutil.rmtree(eval_out, ignore_errors=True)


def babilong_job(config, eval_spec: dict, eval_out: str, on_step: Callable) -> str:
    """Train (resuming any earlier run of the same config) and evaluate one model; returns results.json."""
    from lm2.evaluation import evaluate
    from lm2.training.trainer import Trainer

    model_dir = Path(config.run.out) / "model"
    if not (model_dir / "config.json").exists():
        Trainer(config, on_step=on_step).fit()
    else:
        on_step(config.run.steps, float("nan"))
    model, tokenizer, source = babilong_evaluation(model_dir, eval_spec, config.run.device)
    evaluate(model, tokenizer, source, eval_out, batch_size=32, model_path=model_dir)
    return str(Path(eval_out) / "results.json")


def babilong_evaluation(model_dir: Path, eval_spec: dict, device: str):
    """The trained model, its tokenizer and act 2's questions (the bAbI test split's generator, prose haystack)."""
    from lm2.data import load_tokenizer
    from lm2.evaluation import GeneratedSource
    from lm2.integrations.pretrained import load_weights

    tokenizer = load_tokenizer(model_dir)
    source = GeneratedSource(tokenizer, tasks=["qa1"], lengths=eval_spec["lengths"], samples=eval_spec["samples"],
                             seed=eval_spec["seed"], babi="generate", haystack="prose")  # fmt: skip
    return load_weights(model_dir).to(device), tokenizer, source


def babilong_finished(config, eval_spec: dict, eval_out: Path) -> bool:
    """A model trained with `config` (`drop_other_settings` has removed one of other settings) whose evaluation
    in `eval_out` has every cell of `eval_spec` finished: nothing to run, so no worker is started for it."""
    from lm2.evaluation import is_finished

    model_dir = Path(config.run.out) / "model"
    if not (model_dir / "config.json").exists() or not (eval_out / "results.json").exists():
        return False  # nothing to compare: the worker trains or evaluates (no model loaded here for it)
    return is_finished(*babilong_evaluation(model_dir, eval_spec, config.run.device), eval_out)


def baselines_table(results: dict) -> str:
    """Chance and shortcut accuracies of the evaluated cells (the same for every model: same samples)."""
    lines = []
    for task in results["tasks"]:
        for length, record in results["cells"][task].items():
            scores = ", ".join(f"{k} {100 * v:.1f}%" for k, v in record["baselines"].items())
            lines.append(f"  {task} {length}: {scores}")
    return "baselines (no model):\n" + "\n".join(lines) + "\n"


def plot_curves(metrics: dict[str, Path], path: Path) -> Path:
    """Training loss (smoothed) of each model against steps, from its metrics.jsonl."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, file in metrics.items():
        records = [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
        points = [(r["step"], r["loss"]) for r in records if "loss" in r]
        if points:
            steps, losses = zip(*points, strict=True)
            ax.plot(steps, _smooth(list(losses)), label=name)
    ax.set(xlabel="step", ylabel="training loss (answer tokens)", title="BABILong qa1 training")
    ax.legend()
    fig.tight_layout()
    save_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120))
    plt.close(fig)
    return path


def _smooth(values: list[float], weight: float = 0.8) -> list[float]:
    out, running = [], values[0]
    for v in values:
        running = weight * running + (1 - weight) * v
        out.append(running)
    return out


# -- act 3: shipped checkpoints ---------------------------------------------------------------------------
def shipped_models(option: Path | None) -> tuple[dict[str, Path], str]:
    """Act 3's models by name, and where they were looked for: the `<name>/model/` folders of `--checkpoints`,
    else of $LM2_CHECKPOINTS, else `STUDY_MODELS` under the current folder (those present)."""
    folder = option
    if folder is None and os.environ.get(CHECKPOINTS_ENV):
        folder = Path(os.environ[CHECKPOINTS_ENV])
    if folder is not None:
        found = {p.parent.parent.name: p.parent for p in sorted(folder.glob("*/model/config.json"))}
        return found, f"no <name>/model/ under {folder}"
    found = {name: Path(path) for name, path in STUDY_MODELS.items() if (Path(path) / "config.json").is_file()}
    return found, "no results/reproduction/amendment23/ under the current folder"


def checkpoints_act(args: argparse.Namespace) -> dict:
    from lm2.data import load_tokenizer
    from lm2.evaluation import GeneratedSource, comparison_table, evaluate, load_results
    from lm2.integrations.pretrained import load_weights

    found, where = shipped_models(args.checkpoints)
    if not found:
        print(f"act 3 skipped: the shipped checkpoints are absent ({where}). They come with a checkout of the "
              "repository (results/reproduction, docs/reproduction.md); point at a folder of <name>/model/ "
              f"folders with --checkpoints DIR or {CHECKPOINTS_ENV}=DIR.")  # fmt: skip
        return {}
    lengths = ["0k", "1k"] if args.quick else ["0k", "1k", "4k", "16k"]
    paths = {}
    for name, model_dir in found.items():
        print(f"evaluating {name} ({model_dir}) on qa1 at {', '.join(lengths)}", flush=True)
        model = load_weights(model_dir).to(args.device)
        tokenizer = load_tokenizer(model_dir)
        source = GeneratedSource(tokenizer, tasks=["qa1"], lengths=lengths, samples=min(args.samples, 50),
                                 seed=args.seed, babi="generate", haystack="prose")  # fmt: skip
        out = args.out / "checkpoints" / name
        evaluate(model, tokenizer, source, out, batch_size=32, model_path=model_dir)
        paths[name] = out / "results.json"
    print(comparison_table([load_results(p) for p in paths.values()], list(paths)))
    return {name: str(p) for name, p in paths.items()}
