"""Typed configuration of a training run. Field docstrings become `lm2 train --help`; a run is a YAML
file under `configs/` plus command-line overrides (`--optim.lr 3e-3`). Everything is checked before any
training starts: unknown keys and wrong types by the parser, values by `TrainConfig.validate` (which also
builds the model's `LM2Config`, no weights, so a wrong model field stops the run before the tokenizer).

The model section, `ModelConfig`, is generated from `LM2Config`'s own fields (names, types, defaults and
the descriptions of its docstring), so the two cannot drift apart. Two differences: `vocab_size` may be
null (the tokenizer's size), and there is no `segment_checkpointing`: `run.segment_checkpointing` is the
one switch for a run, and it sets the model's."""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import LlamaConfig

from lm2.model import LM2Config

TASKS = ("babilong", "lm")
DERIVED_MODEL_FIELDS = {"segment_checkpointing": "run.segment_checkpointing"}  # model field → what sets it


def _field_docs(doc: str) -> dict[str, str]:
    """`name: text` entries of a docstring (continuation lines indented deeper), each joined into one line."""
    entries = re.findall(r"^    (\w+): (.+(?:\n {8}.+)*)", doc, flags=re.M)
    return {name: " ".join(text.split()) for name, text in entries}


def model_fields() -> list[tuple[str, Any, dataclasses.Field, str]]:
    """(name, type, dataclass field, description) of every `LM2Config` field a run file may set."""
    docs = _field_docs(LM2Config.__doc__ or "")
    llama = {f.name for f in dataclasses.fields(LlamaConfig)}
    defaults = {f.name: f for f in dataclasses.fields(LM2Config)}
    rows = []
    for name, kind in inspect.get_annotations(LM2Config, eval_str=True).items():
        if name in DERIVED_MODEL_FIELDS or name not in defaults:
            continue
        default = defaults[name]
        spec = field(default=default.default, default_factory=default.default_factory)
        doc = docs.get(name) or ("Llama backbone field (transformers' LlamaConfig meaning)." if name in llama else "")
        if name == "vocab_size":
            kind, spec = int | None, field(default=None)
            doc = "Vocabulary size; null: the tokenizer's (`data.tokenizer`, or the default one's `data.vocab_size`)."
        rows.append((name, kind, spec, doc))
    return rows


def _model_config_class() -> type:
    rows = model_fields()
    args = "\n".join(f"    {name}: {doc}" for name, _, _, doc in rows)
    cls = dataclasses.make_dataclass("ModelConfig", [(name, kind, spec) for name, kind, spec, _ in rows])
    cls.__module__ = __name__
    cls.__doc__ = f"The model: the fields of `LM2Config` (lm2.model.config).\n\nArgs:\n{args}\n"
    return cls


ModelConfig = _model_config_class()


def model_section(values: Mapping[str, Any]) -> Any:
    """A `ModelConfig` from a mapping (a run file's `model:` written in Python); `ValueError` names unknown keys."""
    known = [f.name for f in dataclasses.fields(ModelConfig)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        moved = [f"{key} is set by {DERIVED_MODEL_FIELDS[key]}" for key in unknown if key in DERIVED_MODEL_FIELDS]
        raise ValueError(
            f"model has unknown keys {unknown}{' (' + '; '.join(moved) + ')' if moved else ''}; "
            f"allowed: the fields of LM2Config, {', '.join(known)}"
        )
    return ModelConfig(**values)


@dataclass
class DataConfig:
    """What the model reads: BABILong samples built on the fly, or packed text."""

    task: str = "babilong"
    """`babilong` (bAbI facts hidden in background text, loss on the answer tokens) or `lm` (language
    modelling on packed sequences from `text_dir` or `shards`)."""
    babi_tasks: list[str] | str = field(default_factory=lambda: ["qa1"])
    """bAbI tasks to train on (babilong): a list, comma-separated (`qa1,qa2`) or `all`."""
    babi: str | None = None
    """bAbI source: a folder of v1.2 files, `generate` (offline generator), `download`, or null for the
    shared data folder (`LM2_DATA_DIR`, default ../shared/data)."""
    generated_questions: int = 10000
    """Questions per task made by the offline generator when `babi` is `generate` (bAbI's en-10k has 10,000;
    more keeps a small model from memorising its training questions)."""
    haystack: str | None = "prose"
    """Background text: a folder of .txt files, `prose` (offline generated prose) or `pg19`."""
    tokenizer: str | None = None
    """A tokenizer directory (tokenizer.json); null builds the offline default tokenizer."""
    vocab_size: int = 2048
    """Vocabulary size of the default tokenizer when `tokenizer` is null."""
    validation_fraction: float = 0.05
    """Share of each task's training stories held out for validation (never trained on)."""
    validation_samples: int = 200
    """Validation samples per task and length."""
    validation_lengths: list[int] | str = field(default_factory=lambda: [])
    """Extra validation lengths in segments (besides the current curriculum stage's); a list or `2,4`."""
    text_dir: str | None = None
    """Folder of .txt files (lm task)."""
    shards: str | None = None
    """Pre-tokenized data (lm task, instead of `text_dir`), read by memory map: a folder written by `lm2 data
    tokenize`, or a mixture file (YAML `sources:` with `shards` and `weight`). Any corpus size; rank-aware
    under torchrun; resumes at the exact window."""
    documents: str = "carry"
    """Document boundaries inside a window of `shards` (lm task): `carry` (the memory flows on into the next
    document) or `reset` (each sample's memory restarts at a document start, exactly as if the document ran
    alone, and its first token is not scored; slower when documents are short)."""
    validation_windows: int = 16
    """Windows at the end of every `shards` source kept out of training, for the validation loss."""
    sequence_length: int = 512
    """Tokens per packed training sequence (lm task)."""
    reserve: int = 24
    """Tokens kept free for question and answer when a sample must fill k segments (babilong)."""
    length_jitter: float = 0.0
    """Shorten each training sample's input by a random share (0..this) of a segment (babilong): the
    question then falls anywhere in its segment, as it does at evaluation lengths, instead of always at
    the end of one. 0 keeps every sample at the stage's full length."""
    drop_shortcut: bool = False
    """Train only on questions whose answer is not the place named in the story's latest fact (babilong; the
    last-label shortcut on the story alone, `lm2.data.story_last_label`): answering the latest fact's place,
    whoever it is about, then never pays, and the model must find the asked one's fact. Validation keeps every
    question. Tasks with no such shortcut (its answer empty) keep all their questions."""

    def __post_init__(self) -> None:
        from lm2.data import parse_tasks

        try:
            self.babi_tasks = parse_tasks(_listed("data.babi_tasks", self.babi_tasks, str))  # `all` → qa1..qa20
        except ValueError as err:
            raise ValueError(f"data.babi_tasks={self.babi_tasks!r}: {err}") from None
        self.validation_lengths = _listed("data.validation_lengths", self.validation_lengths, int)


@dataclass
class CurriculumConfig:
    """Curriculum over the number of segments per sample."""

    segments: list[int] | str = field(default_factory=lambda: [0])
    """Stages as numbers of segments per sample (a list or `1,2,4`); 0 means the facts alone (BABILong `0k`)."""
    advance: str = "steps"
    """`steps` (move on after `stage_steps`) or `accuracy` (move on when validation accuracy reaches
    `threshold`, or after `stage_steps` if that is > 0)."""
    stage_steps: int | list[int] | str = 0
    """Steps per stage (`steps` mode), or the most steps a stage may take (`accuracy` mode; 0: no limit). A list
    (or `2000,2000,500`) gives each stage of `segments` its own; the last stage runs to the end either way."""
    threshold: float = 0.9
    """Validation accuracy that ends a stage in `accuracy` mode."""
    draw_segments: bool = False
    """At stage n, draw each sample's number of segments uniformly from 1..n instead of using n (the
    curriculum of the RMT/ARMT BABILong papers: a model trained on every length up to n keeps and forgets
    at every length, not only at n). Validation stays at n."""
    max_facts: list[int] | str = field(default_factory=list)
    """Per stage (same length as `segments`, or empty): train only on bAbI questions whose story has at most
    this many facts (0: any). qa1 asks its questions after 2, 4, 6, 8, 10 facts, so `[2, 4, 6, 0]` with
    `segments: [0, 0, 0, 0]` grows the stories a tiny model reasons over (docs/training.md). Validation always
    uses whole stories."""

    def __post_init__(self) -> None:
        self.segments = _listed("curriculum.segments", self.segments, int)
        self.max_facts = _listed("curriculum.max_facts", self.max_facts, int)
        if isinstance(self.stage_steps, str):
            self.stage_steps = _listed("curriculum.stage_steps", self.stage_steps, int)

    def steps_of(self, stage: int) -> int:
        """`stage_steps` of stage `stage` (0: no limit)."""
        return self.stage_steps[stage] if isinstance(self.stage_steps, list) else self.stage_steps


@dataclass
class OptimConfig:
    """AdamW and its learning-rate schedule."""

    lr: float = 1e-3
    """Peak learning rate (AdamW)."""
    min_lr_ratio: float = 0.1
    """The cosine schedule ends at `lr * min_lr_ratio`."""
    warmup_steps: int = 100
    """Linear warm-up steps."""
    weight_decay: float = 0.1
    """Decoupled weight decay on matrices (not on norms, biases, embeddings or the memory init)."""
    betas: tuple[float, float] = (0.9, 0.95)
    """AdamW betas."""
    eps: float = 1e-8
    """AdamW epsilon."""
    grad_clip: float = 1.0
    """Clip the global gradient norm to this (0: no clipping)."""


@dataclass
class RunConfig:
    """Steps, batch, device, precision, checkpoints and logging."""

    out: str = "runs/train"
    """Run directory: config.yaml, checkpoints, metrics.jsonl, the final model. A run.out that holds
    checkpoints is resumed, and only with the configuration that made them (docs/training.md)."""
    init_from: str | None = None
    """A model folder (a run's `model/` or `step-N/`, `lm2 convert`'s output) whose weights start this run:
    a new run from them (step 0, a fresh optimizer and schedule). Its model must have this run's shapes and
    architecture, or be a `vanilla` model, whose backbone then starts this run's memory model (its memory fresh).
    `lm2 train --init-from DIR` is short for `--run.init_from DIR`."""
    steps: int = 1000
    """Optimizer steps."""
    batch_size: int = 32
    """Samples per optimizer step, over all processes and accumulation steps."""
    accumulation: int = 1
    """Micro-batches per optimizer step and process."""
    seed: int = 0
    """Seed of the weights and of the data stream."""
    device: str = "auto"
    """`auto` (cuda when available), `cpu`, `cuda`, `cuda:N` or `mps`."""
    precision: str = "auto"
    """`fp32`, `bf16` (autocast; the memory state stays fp32) or `auto` (bf16 on GPU, fp32 on CPU)."""
    compile: bool = False
    """torch.compile every decoder block."""
    segment_checkpointing: bool = False
    """Recompute each segment's activations in the backward pass: less activation memory for long inputs,
    about one more forward pass of compute. The one switch for a run: it sets the model's
    `LM2Config.segment_checkpointing` (so `model:` has no such key)."""
    threads: int = 0
    """torch CPU threads (0: leave torch's default)."""
    log_every: int = 10
    """Steps between metrics lines."""
    eval_every: int = 200
    """Steps between validations (0: only at the end)."""
    save_every: int = 200
    """Steps between checkpoints (0: only at the end)."""
    keep_last: int = 2
    """Checkpoints kept on disk."""
    distributed: str = "ddp"
    """Under torchrun: `ddp` or `fsdp` (FSDP2 fully_shard)."""
    tensorboard: bool = False
    """Also write TensorBoard event files (needs the tensorboard package)."""
    progress: bool = True
    """Show a progress bar."""


@dataclass
class TrainConfig:
    """A training run."""

    model: ModelConfig = field(default_factory=ModelConfig)
    """LM2Config fields (arch, sizes, segment_length, memory options); vocab_size defaults to the tokenizer's.
    A mapping is accepted too (checked like a run file's `model:`)."""
    data: DataConfig = field(default_factory=DataConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self) -> None:
        if isinstance(self.model, Mapping):
            self.model = model_section(self.model)

    def model_config(self, vocab_size: int) -> LM2Config:
        """The LM2Config of this run (`vocab_size`: the tokenizer's, unless `model.vocab_size` is given).

        Only the fields that differ from their defaults are passed: a run file cannot tell a field written with
        its default value from one left out (a resolved `config.yaml` writes every field), so neither conflicts
        with `memory_preset` here, where `LM2Config(...)` in Python refuses both."""
        defaults = {f.name: f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
                    for f in dataclasses.fields(self.model)}  # fmt: skip
        fields = {name: value for name, value in dataclasses.asdict(self.model).items() if value != defaults[name]}
        if fields.get("vocab_size") is None:
            fields["vocab_size"] = vocab_size
        return LM2Config(**fields, segment_checkpointing=self.run.segment_checkpointing)

    def validate(self) -> None:
        """Raise `ValueError` naming the field, the value and what is allowed, for values the parser's types
        cannot catch; before any tokenizer, data stream or model is built."""
        try:  # the model's own checks (DESIGN §5), before any tokenizer or weights exist
            self.model_config(vocab_size=self.data.vocab_size)
        except ValueError as err:
            raise ValueError(f"model: {err}") from None
        _check_data(self.data)
        if self.data.documents == "reset" and self.run.distributed == "fsdp" and self.model.arch == "vanilla":
            raise ValueError("data.documents='reset' calls the blocks once per document piece, a different number "
                             "of times per process, which FSDP's per-block units of vanilla cannot follow; use "
                             "run.distributed='ddp' or data.documents='carry'")  # fmt: skip
        _check_curriculum(self.curriculum)
        _check_optim(self.optim, self.run)
        _check_run(self.run)
        _check_paths(self.data, self.run)


def _check_data(d: DataConfig) -> None:
    _choice("data.task", d.task, TASKS)
    if d.generated_questions < 1:
        raise ValueError(f"data.generated_questions={d.generated_questions} must be >= 1")
    if not 0 <= d.length_jitter <= 1:
        raise ValueError(f"data.length_jitter={d.length_jitter} must be in [0, 1] (a share of a segment)")
    if not 0 < d.validation_fraction < 1:
        raise ValueError(f"data.validation_fraction={d.validation_fraction} must be in (0, 1)")
    _choice("data.documents", d.documents, ("carry", "reset"))
    if d.sequence_length < 2 or d.validation_windows < 1:
        raise ValueError(f"data.sequence_length={d.sequence_length} must be >= 2 and "
                         f"data.validation_windows={d.validation_windows} >= 1")  # fmt: skip


def _check_curriculum(c: CurriculumConfig) -> None:
    _choice("curriculum.advance", c.advance, ("steps", "accuracy"))
    if not c.segments or any(s < 0 for s in c.segments):
        raise ValueError(f"curriculum.segments={c.segments} must be a non-empty list of numbers >= 0")
    if c.max_facts and (len(c.max_facts) != len(c.segments) or any(k < 0 for k in c.max_facts)):
        raise ValueError(
            f"curriculum.max_facts={c.max_facts} must be empty or give one number >= 0 per stage of "
            f"curriculum.segments={c.segments}"
        )
    steps = c.stage_steps if isinstance(c.stage_steps, list) else [c.stage_steps] * len(c.segments)
    if len(steps) != len(c.segments) or any(n < 0 for n in steps):
        raise ValueError(f"curriculum.stage_steps={c.stage_steps} must be a number >= 0 or one per stage of "
                         f"curriculum.segments={c.segments}")  # fmt: skip
    if c.advance == "steps" and any(n <= 0 for n in steps[:-1]):
        raise ValueError(f"curriculum.stage_steps={c.stage_steps} must be > 0 for every stage but the last when "
                         "curriculum.advance='steps' (a stage without a limit would never end)")  # fmt: skip


def _check_optim(o: OptimConfig, r: RunConfig) -> None:
    if o.lr <= 0:
        raise ValueError(f"optim.lr={o.lr} must be > 0")
    if not 0 <= o.min_lr_ratio <= 1:
        raise ValueError(f"optim.min_lr_ratio={o.min_lr_ratio} must be in [0, 1]")
    if o.grad_clip < 0:
        raise ValueError(f"optim.grad_clip={o.grad_clip} must be >= 0 (0: no clipping)")
    if not 0 <= o.warmup_steps <= r.steps:
        raise ValueError(f"optim.warmup_steps={o.warmup_steps} must be in [0, run.steps={r.steps}]")


def _check_run(r: RunConfig) -> None:
    from lm2.device import resolve_device

    _choice("run.precision", r.precision, ("auto", "fp32", "bf16"))
    _choice("run.distributed", r.distributed, ("ddp", "fsdp"))
    for name in ("steps", "batch_size", "accumulation"):
        if getattr(r, name) <= 0:
            raise ValueError(f"run.{name}={getattr(r, name)} must be > 0")
    if r.batch_size % r.accumulation:
        raise ValueError(f"run.batch_size={r.batch_size} must be divisible by run.accumulation={r.accumulation}")
    resolve_device(r.device, "run.device")


def _check_paths(d: DataConfig, r: RunConfig) -> None:
    """Every folder the run reads exists (relative paths are read from the current folder, and said so)."""
    if d.task == "lm" and d.shards is not None and not Path(d.shards).exists():
        raise ValueError(f"data.shards={d.shards!r} does not exist{_relative(d.shards)}; allowed: a folder "
                         "written by lm2 data tokenize, or a mixture file")  # fmt: skip
    if d.task == "lm" and d.shards is None and (not d.text_dir or not Path(d.text_dir).is_dir()):
        raise ValueError(
            f"data.text_dir={d.text_dir!r} must be a folder of .txt files for data.task='lm'{_relative(d.text_dir)}"
        )
    for path_field in ("babi", "haystack", "tokenizer"):
        value = getattr(d, path_field)
        if value not in (None, "generate", "download", "prose", "pg19") and not Path(value).exists():
            raise ValueError(f"data.{path_field}={value!r} does not exist{_relative(value)}")
    if d.task == "babilong" and d.babi not in ("generate", "download"):
        _check_babi_files(d)
    if r.init_from is not None and not (Path(r.init_from) / "config.json").is_file():
        raise ValueError(
            f"run.init_from={r.init_from!r} is not a model folder (no config.json){_relative(r.init_from)}; "
            "allowed: a folder written by save_pretrained (a run's model/ or step-N/, lm2 convert's output)"
        )


def _check_babi_files(d: DataConfig) -> None:
    """The bAbI training file of every task is there (`data.babi` a folder, or null: the shared data folder)."""
    from lm2.data import data_dir, find_babi_file

    shared = data_dir()
    if d.babi is None and shared is None:
        raise ValueError(
            "data.babi=null reads the shared data folder (LM2_DATA_DIR, else ../shared/data), which is not there; "
            "allowed: a bAbI folder, 'generate' (offline) or 'download'"
        )
    root = Path(d.babi) if d.babi is not None else shared / "babi"
    for task in d.babi_tasks:
        try:
            find_babi_file(root, task, "train")
        except FileNotFoundError as err:
            raise ValueError(f"data.babi={d.babi!r}: {' '.join(str(err).split())}") from None


def _relative(path: str | None) -> str:
    """A note for a relative path that was not found: where it was looked for."""
    if path is None or Path(path).is_absolute():
        return ""
    return f" (relative paths are read from the current folder, {Path.cwd()})"


def _listed(name: str, value: list | str, kind: type) -> list:
    """A list field given as a list or as comma-separated text (`qa1,qa2`, `1,2,4`) → the list."""
    if not isinstance(value, str):
        return list(value)
    items = [item.strip() for item in value.strip().strip("[]").split(",") if item.strip()]
    try:
        return [kind(item) for item in items]
    except ValueError:
        example = "1,2,4" if kind is int else "qa1,qa2"
        raise ValueError(
            f"{name}={value!r} must be a list or comma-separated {kind.__name__}s, e.g. {example}"
        ) from None


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; choose one of {', '.join(map(repr, allowed))}")
