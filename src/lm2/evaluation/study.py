"""The reproduction study (`lm2 reproduce`, docs/reproduction.md): pretrained backbones, then BABILong.

Stages, each skipped when its output exists, so the one command resumes where it stopped:

1. `books`: the dev books split into the pretraining books and three held out (`HELDOUT_BOOKS`), as folders
   of links under RUNS/books/ (the data are never copied);
2. `data`: a byte-level BPE trained on the pretraining books and the bAbI training stories, and the
   pretraining books tokenized with it into shards (`lm2 data tokenizer`, `lm2 data tokenize`);
3. `pretrain`: every model trained as a language model by `configs/reproduction/pretrain.yaml` (the same
   tokens, steps and seed for all; only the variant's memory fields differ);
4. `perplexity`: each pretrained model on the held-out books at 1k, 4k and 16k tokens of context;
5. `finetune`: each pretrained model fine-tuned on each task by `configs/reproduction/finetune-<task>.yaml`
   (curriculum over segments), once per seed;
6. `eval`: each fine-tuned model on the bAbI test split at every length, background from the held-out books;
7. `report`: the tables, heatmaps, curves and timings under RESULTS/.

Every command a stage runs is an `lm2` command line, logged with its start, end, exit code and machine in
RESULTS/runs.jsonl; each command resumes its own work when run again (`lm2 train` from its last checkpoint,
`lm2 eval` and `lm2 perplexity` from their finished cells). The models that the study ships (pretrained and
fine-tuned, `save_pretrained` with the tokenizer, about 2 MB each) are copied to RESULTS/models/.

A later round of fine-tuning names its own run files (`finetune="round2"`: CONFIGS/round2-<task>.yaml, runs
under RUNS/round2/) and results folder, and may start from the shipped pretrained models (`pretrained_from`:
their folder; the `data` and `pretrain` stages then do nothing and the models' own tokenizer is used), so a
finished round is never mistaken for the next one's work.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lm2.bench.common import machine
from lm2.data.babilong import length_name, parse_lengths
from lm2.evaluation.results import is_done, load_results
from lm2.files import save_atomic, write_atomic
from lm2.model.config import LM2Config, memory_fields
from lm2.model.variants import VARIANTS

HELDOUT_BOOKS = ("dracula", "frankenstein", "picture_of_dorian_gray")  # authors with no other dev book
MODELS = ("lm2", "rmt", "armt", "vanilla", "lm2-paper", "vanilla-segmented")  # the order jobs start in
LENGTHS = ("0k", "1k", "2k", "4k", "8k", "16k", "32k", "64k")
CONTEXTS = ("1k", "4k", "16k")
STAGES = ("books", "data", "pretrain", "perplexity", "finetune", "eval", "report")


@dataclass(frozen=True)
class StudyPlan:
    """What `lm2 reproduce` runs. runs: working folder (checkpoints, logs); results: what is kept (models,
    evaluations, report); data: the folder holding babi/ and haystack/dev/; configs: the study's run files."""

    runs: Path = Path("runs/reproduction")
    results: Path = Path("results/reproduction")
    data: Path = Path("../shared/data")
    configs: Path = Path("configs/reproduction")
    models: tuple[str, ...] = MODELS
    seeds: tuple[int, ...] = (0, 1)
    tasks: tuple[str, ...] = ("qa1",)
    lengths: tuple[str, ...] = LENGTHS
    samples: int = 100
    contexts: tuple[str, ...] = CONTEXTS
    full_attention_tokens: int = 16_500  # longest prompt full attention runs on (CPU time): 16k, not 32k
    workers: int = 2
    train_args: tuple[str, ...] = ()  # extra `lm2 train` options for every training (e.g. a smoke test's steps)
    finetune: str = "finetune"  # the fine-tuning run files: CONFIGS/<finetune>-<task>.yaml; runs under RUNS/<finetune>/
    pretrained_from: Path | None = None  # shipped pretrained models (<model>/model, with their tokenizer) to start from

    def __post_init__(self) -> None:
        unknown = [m for m in self.models if m not in VARIANTS]
        if unknown:
            raise ValueError(f"models={unknown} are not model variants; allowed: {', '.join(VARIANTS)}")
        if not self.seeds or not self.tasks:
            raise ValueError(f"seeds={self.seeds} and tasks={self.tasks} must not be empty")
        missing = [t for t in self.tasks if not self.finetune_config(t).is_file()]
        if missing or not (self.configs / "pretrain.yaml").is_file():
            raise ValueError(f"configs={str(self.configs)!r} must hold pretrain.yaml and {self.finetune}-<task>.yaml "
                             f"for tasks {list(self.tasks)} (missing: {missing or ['pretrain.yaml']}); run from a "
                             "checkout of the repository or pass its configs/reproduction")  # fmt: skip
        if self.pretrained_from is not None:
            absent = [m for m in self.models if not _done(self.pretrained_from / m)]
            if absent:
                raise ValueError(f"pretrained_from={str(self.pretrained_from)!r} lacks <model>/model/config.json for "
                                 f"{absent}; give the folder of the study's shipped pretrained models "
                                 "(results/reproduction/models/pretrained)")  # fmt: skip
        parse_lengths(list(self.lengths))
        parse_lengths(list(self.contexts))
        if self.samples < 1 or self.workers < 1:
            raise ValueError(f"samples={self.samples} and workers={self.workers} must be at least 1")

    # -- paths ---------------------------------------------------------------------------------------
    @property
    def tokenizer(self) -> Path:
        """The study's tokenizer: trained by the `data` stage, or the one saved with the pretrained models."""
        if self.pretrained_from is not None:
            return self.pretrained(self.models[0]) / "model"
        return self.runs / "tokenizer"

    def finetune_config(self, task: str) -> Path:
        return self.configs / f"{self.finetune}-{task}.yaml"

    def books(self, part: str) -> Path:
        return self.runs / "books" / part

    def pretrained(self, model: str) -> Path:
        return (self.pretrained_from or self.runs / "pretrain") / model

    def finetuned(self, task: str, model: str, seed: int) -> Path:
        return self.runs / self.finetune / task / f"{model}-seed{seed}"

    def evaluation(self, task: str, model: str, seed: int) -> Path:
        return self.results / "eval" / task / f"{model}-seed{seed}"


def variant_args(name: str) -> list[str]:
    """`lm2 train` options that make the study's run file train variant `name` (its memory fields)."""
    return [word for key, value in VARIANTS[name].items() for word in (f"--model.{key}", _yaml_word(value))]


def memory_args(model_dir: Path) -> list[str]:
    """`lm2 train` options stating the memory fields of the model saved in `model_dir` (as it loads: a config
    saved before a field existed gives the value it was trained with), so that fine-tuning it trains the model
    that was pretrained, whatever a registry name means today (`lm2` after a default moved)."""
    config = LM2Config.from_pretrained(model_dir)
    return [word for k in memory_fields(config.arch) for word in (f"--model.{k}", _yaml_word(getattr(config, k)))]


def _yaml_word(value: Any) -> str:
    """A command-line value as the run-file parser reads it back: null, true / false, or the text."""
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


class Log:
    """RESULTS/runs.jsonl: one line per command run (stage, model, seed, command, start, end, seconds, exit
    code, machine), appended under a lock (the workers share it)."""

    def __init__(self, path: Path) -> None:
        self.path, self.lock, self.machine = path, threading.Lock(), machine(threads=1)

    def run(self, stage: str, command: list[str], log: Path, **keys) -> None:
        """Run `command` (its output appended to `log`); a failure raises naming the log."""
        log.parent.mkdir(parents=True, exist_ok=True)
        start = time.time()
        with log.open("a") as out:
            out.write(f"\n$ {' '.join(command)}\n")
            out.flush()
            code = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT)
        shown = ["lm2", *command[3:]] if command[1:3] == ["-m", "lm2_command"] else command
        end = time.time()
        record = {"stage": stage, **keys, "command": " ".join(shown), "start": _stamp(start),
                  "end": _stamp(end), "seconds": round(end - start, 1), "exit_code": code,
                  "log": str(log), "machine": self.machine}  # fmt: skip
        with self.lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as f:
                f.write(json.dumps(record) + "\n")
        if code != 0:
            raise RuntimeError(f"{stage} failed (exit code {code}): {' '.join(command)}; see {log}")


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def lm2(*words: str | Path) -> list[str]:
    """An `lm2` command line run by this Python (the same installation), started as the console script starts
    (`lm2_command`: the model classes load only in a command that uses them, and a command's worker processes do
    not import them again)."""
    return [sys.executable, "-m", "lm2_command", *map(str, words)]


def _done(model_dir: Path) -> bool:
    return (model_dir / "model" / "config.json").is_file()


# -- stages ----------------------------------------------------------------------------------------------
def split_books(plan: StudyPlan) -> None:
    """RUNS/books/pretrain and RUNS/books/heldout: links to the dev books (HELDOUT_BOOKS in the second)."""
    dev = plan.data / "haystack" / "dev"
    books = sorted(dev.glob("*.txt"))
    names = {b.stem for b in books}
    absent = [b for b in HELDOUT_BOOKS if b not in names]
    if absent:
        raise FileNotFoundError(f"{dev} lacks the held-out books {absent}; the study needs the dev books of the "
                                "shared data folder (--data)")  # fmt: skip
    for book in books:
        part = "heldout" if book.stem in HELDOUT_BOOKS else "pretrain"
        link = plan.books(part) / book.name
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(book.resolve())


def tokenizer_and_shards(plan: StudyPlan, log: Log) -> None:
    if plan.pretrained_from is not None:  # the pretrained models bring their tokenizer; no pretraining data needed
        return
    if not (plan.tokenizer / "tokenizer.json").is_file():
        log.run("tokenizer", lm2("data", "tokenizer", "--out", plan.tokenizer, "--overwrite", "--babi",
                                 plan.data / "babi", "--haystack", plan.books("pretrain")),
                plan.runs / "logs" / "tokenizer.log")  # fmt: skip
    manifest = plan.runs / "shards" / "pretrain" / "manifest.json"
    if not (manifest.is_file() and json.loads(manifest.read_text()).get("complete")):
        log.run("shards", lm2("data", "tokenize", plan.books("pretrain"), "--tokenizer", plan.tokenizer, "--out",
                              plan.runs / "shards" / "pretrain"),
                plan.runs / "logs" / "shards.log")  # fmt: skip


def pretrain(plan: StudyPlan, log: Log, model: str) -> None:
    if plan.pretrained_from is not None:  # shipped models: nothing to train, nothing to copy
        return
    out = plan.pretrained(model)
    if not _done(out):
        log.run("pretrain", lm2("train", "--config", plan.configs / "pretrain.yaml", *variant_args(model),
                                "--data.shards", plan.runs / "shards" / "pretrain", "--data.tokenizer", plan.tokenizer,
                                "--run.out", out, *plan.train_args),
                plan.runs / "logs" / f"pretrain-{model}.log", model=model)  # fmt: skip
    keep(out, plan.results / "models" / "pretrained" / model)


def perplexity(plan: StudyPlan, log: Log, model: str) -> None:
    out = plan.results / "perplexity" / model
    results = out / "perplexity.json"
    contexts = [str(c) for c in parse_lengths(list(plan.contexts))]
    if results.is_file() and all(c in json.loads(results.read_text())["contexts"] for c in contexts):
        return
    log.run("perplexity", lm2("perplexity", plan.pretrained(model) / "model", "--text", plan.books("heldout"),
                              "--out", out, "--contexts", ",".join(plan.contexts), "--threads", "1"),
            plan.runs / "logs" / f"perplexity-{model}.log", model=model)  # fmt: skip


def finetune(plan: StudyPlan, log: Log, task: str, model: str, seed: int) -> None:
    out = plan.finetuned(task, model, seed)
    if not _done(out):
        pretrained = plan.pretrained(model) / "model"
        log.run("finetune", lm2("train", "--config", plan.finetune_config(task), *variant_args(model),
                                *memory_args(pretrained), "--data.haystack", plan.books("pretrain"),
                                "--data.tokenizer", plan.tokenizer, "--init-from", pretrained, "--run.seed", seed,
                                "--run.out", out, *plan.train_args),
                plan.runs / "logs" / f"{plan.finetune}-{task}-{model}-seed{seed}.log", model=model, seed=seed,
                task=task)  # fmt: skip
    keep(out, plan.results / "models" / task / f"{model}-seed{seed}")


def evaluate(plan: StudyPlan, log: Log, task: str, model: str, seed: int) -> None:
    lengths = list(plan.lengths)
    words = ["--max-tokens", plan.full_attention_tokens] if VARIANTS[model].get("vanilla_mode") == "full" else []
    out = plan.evaluation(task, model, seed)
    results = out / "results.json"
    if results.is_file():  # skipped when every cell is finished; `lm2 eval` runs the others (and OOM cells again)
        previous = json.loads(results.read_text())
        limit = plan.full_attention_tokens if words else None
        if all(is_done(previous, out, task, length_name(n), limit) for n in parse_lengths(lengths)):
            return
    log.run("eval", lm2("eval", plan.finetuned(task, model, seed) / "model", "--out", out, "--tasks", task,
                        "--lengths", ",".join(lengths), "--samples", plan.samples, "--seed", 0, "--babi",
                        plan.data / "babi", "--haystack", plan.books("heldout"), "--threads", 1, *words),
            plan.runs / "logs" / f"eval-{task}-{model}-seed{seed}.log", model=model, seed=seed, task=task)  # fmt: skip


def keep(run: Path, to: Path) -> None:
    """Copy a finished run's model (weights, config, tokenizer), its metrics.jsonl and config.yaml to `to`."""
    if (to / "model" / "config.json").is_file():
        return
    with_tmp = to.with_name(to.name + ".tmp")
    shutil.rmtree(with_tmp, ignore_errors=True)
    shutil.copytree(run / "model", with_tmp / "model")
    for name in ("metrics.jsonl", "config.yaml"):
        if (run / name).is_file():
            shutil.copy2(run / name, with_tmp / name)
    shutil.rmtree(to, ignore_errors=True)
    with_tmp.rename(to)


def run_study(plan: StudyPlan, stages: Sequence[str] = STAGES, say: Callable[[str], None] = print) -> None:
    """Run `stages` of the study in order; the jobs of a stage run `plan.workers` at a time."""
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"stages={unknown} are not stages (--stages); allowed: all or {', '.join(STAGES)}")
    log = Log(plan.results / "runs.jsonl")
    plan.results.mkdir(parents=True, exist_ok=True)
    write_atomic(plan.results / "plan.json", json.dumps(_plain(plan), indent=1) + "\n")
    jobs: dict[str, list[tuple[str, Callable[[], None]]]] = {
        "books": [("split", lambda: split_books(plan))],
        "data": [("tokenizer and shards", lambda: tokenizer_and_shards(plan, log))],
        "pretrain": [(m, lambda m=m: pretrain(plan, log, m)) for m in plan.models],
        "perplexity": [(m, lambda m=m: perplexity(plan, log, m)) for m in plan.models],
        # a fine-tuned model is evaluated as soon as it is trained when both stages run
        "finetune": [(f"{t} {m} seed {s}", lambda t=t, m=m, s=s: (finetune(plan, log, t, m, s),
                      "eval" in stages and evaluate(plan, log, t, m, s)))
                     for s in plan.seeds for t in plan.tasks for m in plan.models],
        "eval": [(f"{t} {m} seed {s}", lambda t=t, m=m, s=s: evaluate(plan, log, t, m, s))
                 for s in plan.seeds for t in plan.tasks for m in plan.models],
        "report": [("report", lambda: say(write_report(plan)))],
    }  # fmt: skip
    for stage in stages:
        say(f"{_stamp(time.time())} {stage}: {len(jobs[stage])} job(s)")
        with ThreadPoolExecutor(max_workers=plan.workers) as pool:
            futures = {name: pool.submit(job) for name, job in jobs[stage]}
            for name, future in futures.items():
                future.result()  # the first failure stops the study, naming its log
                say(f"{_stamp(time.time())} {stage}: {name} done")


def _plain(plan: StudyPlan) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(plan).items()}


# -- report ----------------------------------------------------------------------------------------------
def wilson(correct: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion `correct / n`."""
    if n == 0:
        return (math.nan, math.nan)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def pooled_accuracy(results: Sequence[Path], task: str = "qa1") -> dict[str, tuple[float, float, float]]:
    """Accuracy and 95 % Wilson interval per length of `task` over the questions of several runs together (their
    `lm2 eval` results, files or folders, e.g. two seeds of one model): (accuracy, low, high) as fractions. A cell a
    run could not score (out of memory: no accuracy) adds nothing; a length no run scored is left out."""
    counts: dict[str, list[float]] = {}
    for path in results:
        for length, cell in load_results(path)["cells"][task].items():
            if cell.get("accuracy") is None:
                continue
            right_total = counts.setdefault(length, [0.0, 0.0])
            right_total[0] += cell["accuracy"] * cell["samples"]
            right_total[1] += cell["samples"]
    return {length: (right / total, *wilson(right, total)) for length, (right, total) in counts.items()}


def interval_order(a: tuple[float, float, float], b: tuple[float, float, float]) -> str:
    """The study's tie rule for two (accuracy, low, high) cells: `"="` when each accuracy lies inside the other's
    interval, else `">"` or `"<"` as a's accuracy is above or below b's."""
    if b[1] <= a[0] <= b[2] and a[1] <= b[0] <= a[2]:
        return "="
    return ">" if a[0] > b[0] else "<"


def babilong_table(plan: StudyPlan, task: str) -> tuple[str, dict]:
    """Accuracy (%) per model and length: the mean over the seeds evaluated, its 95 % interval (the seeds'
    answers pooled) and each seed's score, beside chance and the last-location shortcut on the same questions;
    and the numbers as a dict."""
    header = "| length | " + " | ".join(plan.models) + " | chance | last label (shortcut) |"
    lines = [header, "|---|" + "---:|" * (len(plan.models) + 2)]
    numbers: dict = {}
    lengths = [length_name(n) for n in parse_lengths(list(plan.lengths))]
    for length in lengths:
        cells, baselines = [], None
        for model in plan.models:
            scores = []
            for seed in plan.seeds:
                path = plan.evaluation(task, model, seed) / "results.json"
                record = load_results(path)["cells"].get(task, {}).get(length) if path.is_file() else None
                if record is not None and record.get("accuracy") is not None:
                    scores.append((seed, record["accuracy"], record["samples"]))
                    baselines = baselines or record.get("baselines")  # the same questions for every model
                elif record is not None:
                    scores.append((seed, None, 0))
            numbers.setdefault(model, {})[length] = {str(s): a for s, a, _ in scores}
            measured = [(a, n) for _, a, n in scores if a is not None]
            if not measured:
                cells.append("OOM" if scores else "—")
                continue
            correct, n = sum(a * k for a, k in measured), sum(k for _, k in measured)
            low, high = wilson(correct, n)
            per_seed = "/".join(f"{100 * a:.0f}" for _, a, _ in scores if a is not None)
            cells.append(f"{100 * correct / n:.1f} [{100 * low:.0f}–{100 * high:.0f}] ({per_seed})")
        shown = ["—", "—"] if not baselines else [f"{100 * baselines[k]:.1f}" for k in ("chance", "last_label")]
        lines.append(f"| {length} | " + " | ".join(cells + shown) + " |")
    return "\n".join(lines), numbers


def perplexity_report(plan: StudyPlan) -> tuple[str, dict]:
    from lm2.evaluation.perplexity import load_perplexity, perplexity_table

    runs = {m: load_perplexity(plan.results / "perplexity" / m) for m in plan.models
            if (plan.results / "perplexity" / m / "perplexity.json").is_file()}  # fmt: skip
    if not runs:
        return "", {}
    plot_position_loss(runs, plan.results / "perplexity" / "position_loss.png")
    return perplexity_table(runs), runs


def _pyplot():
    """matplotlib's pyplot on the file-only backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, drawn: bool = True) -> bool:
    """Write the figure to `path` (atomically) when it shows something, and close it; returns `drawn`."""
    fig.tight_layout()
    if drawn:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120))
    _pyplot().close(fig)
    return drawn


def plot_position_loss(runs: dict, path: Path) -> None:
    """Held-out perplexity by context and the loss by position at the longest context, one line per model:
    `runs` maps a name to `lm2 perplexity`'s results (`load_perplexity`)."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, results in runs.items():
        contexts = sorted(results["contexts"].values(), key=lambda r: r["context"])
        left.plot([r["context"] for r in contexts], [r["perplexity"] for r in contexts], marker="o", label=name)
        longest = contexts[-1]
        xs = [(i + 0.5) * longest["bucket"] for i in range(len(longest["position_loss"]))]
        right.plot(xs, longest["position_loss"], label=name)
    left.set(xscale="log", xlabel="context (tokens)", ylabel="held-out perplexity", title="perplexity by context")
    right.set(xlabel="position in the window (tokens)", ylabel="mean loss (nats)",
              title="loss by position, longest context")  # fmt: skip
    for ax in (left, right):
        ax.legend(fontsize=7)
    _save(fig, path)


def _plot_pretraining(plan: StudyPlan, path: Path) -> bool:
    """Pretraining loss against steps (smoothed over 10 logs) and the validation loss, per model."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    drawn = False
    for model in plan.models:
        metrics = plan.results / "models" / "pretrained" / model / "metrics.jsonl"
        if not metrics.is_file():
            continue
        records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
        losses = [(r["step"], r["loss"]) for r in records if "loss" in r]
        smooth = [sum(x for _, x in losses[max(0, i - 9) : i + 1]) / len(losses[max(0, i - 9) : i + 1])
                  for i in range(len(losses))]  # fmt: skip
        (line,) = ax.plot([step for step, _ in losses], smooth, label=model, linewidth=1)
        evals = [(r["step"], r["eval"]["val_loss"]) for r in records if "eval" in r]
        ax.plot([st for st, _ in evals], [v for _, v in evals], "o", color=line.get_color(), markersize=3)
        drawn = True
    ax.set(xlabel="step", ylabel="loss (nats per token)", ylim=(3, 8),
           title="pretraining: training loss (lines), validation (dots)")  # fmt: skip
    if drawn:
        ax.legend(fontsize=7)
    return _save(fig, path, drawn)


def _plot_learning_curves(plan: StudyPlan, task: str, path: Path) -> bool:
    """Validation accuracy at 0k and at the current stage's length against steps, per fine-tuning run."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    drawn = False
    for model in plan.models:
        for seed in plan.seeds:
            metrics = plan.results / "models" / task / f"{model}-seed{seed}" / "metrics.jsonl"
            if not metrics.is_file():
                continue
            evals = [json.loads(line)["eval"] for line in metrics.read_text().splitlines() if '"eval"' in line]
            zero = [(e["step"], e["accuracy"].get(f"{task}/0seg")) for e in evals]
            left.plot([s for s, a in zero if a is not None], [100 * a for _, a in zero if a is not None],
                      label=f"{model} s{seed}")  # fmt: skip
            right.plot([e["step"] for e in evals], [100 * e["stage_accuracy"] for e in evals], label=f"{model} s{seed}")
            drawn = True
    left.set(xlabel="step", ylabel="validation accuracy at 0k (%)", ylim=(0, 100), title=f"{task} at 0k")
    right.set(xlabel="step", ylabel="validation accuracy (%)", ylim=(0, 100), title="at the curriculum's length")
    for ax in (left, right):
        ax.axhline(95, color="grey", linestyle=":", linewidth=0.8)
        ax.legend(fontsize=6)
    return _save(fig, path, drawn)


def timings(plan: StudyPlan) -> str:
    """Wall time per stage, task, model and seed from runs.jsonl (the runs of a resumed command added up)."""
    path = plan.results / "runs.jsonl"
    if not path.is_file():
        return ""
    rows: dict[tuple, float] = {}
    for line in path.read_text().splitlines():
        r = json.loads(line)
        key = (r["stage"], r.get("task", ""), r.get("model", ""), r.get("seed", ""))
        rows[key] = rows.get(key, 0.0) + r["seconds"]
    lines = ["| stage | task | model | seed | minutes |", "|---|---|---|---:|---:|"]
    lines += [f"| {s} | {t} | {m} | {seed} | {sec / 60:.1f} |" for (s, t, m, seed), sec in rows.items()]
    return "\n".join(lines)


def write_report(plan: StudyPlan) -> str:
    """RESULTS/report.md (and the plots beside it) from whatever has finished; returns its text."""
    from lm2.evaluation.report import compare

    parts = ["# Reproduction study: report", "", f"Plan: `{plan.results / 'plan.json'}`; every command: "
             f"`{plan.results / 'runs.jsonl'}`.", ""]  # fmt: skip
    table, runs = perplexity_report(plan)
    if table:
        parts += ["## Held-out perplexity (pretrained models)", "", table, "",
                  "![perplexity](perplexity/position_loss.png)", ""]  # fmt: skip
    if _plot_pretraining(plan, plan.results / "pretraining.png"):
        parts += ["![pretraining curves](pretraining.png)", ""]
    numbers = {"perplexity": {m: {c: r["perplexity"] for c, r in res["contexts"].items()} for m, res in runs.items()}}
    for task in plan.tasks:
        text, numbers[task] = babilong_table(plan, task)
        parts += [f"## BABILong {task}, bAbI test split ({plan.samples} samples per cell and seed)", "",
                  "Mean over the seeds [95 % interval, answers pooled] (each seed).", "", text, ""]  # fmt: skip
        evaluated = [(f"{m}-seed{s}", plan.evaluation(task, m, s)) for s in plan.seeds for m in plan.models
                     if (plan.evaluation(task, m, s) / "results.json").is_file()]  # fmt: skip
        if evaluated:
            compare([p for _, p in evaluated], plan.results / "eval" / task, names=[n for n, _ in evaluated])
            parts += [f"![heatmaps](eval/{task}/comparison.png)", ""]
        if _plot_learning_curves(plan, task, plan.results / f"learning_curves_{task}.png"):
            parts += [f"![learning curves](learning_curves_{task}.png)", ""]
    parts += ["## Wall times", "", timings(plan), ""]
    text = "\n".join(parts)
    write_atomic(plan.results / "report.md", text)
    write_atomic(plan.results / "numbers.json", json.dumps(numbers, indent=1) + "\n")
    return text
