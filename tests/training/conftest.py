"""Tiny training runs: generated bAbI, offline prose, a 2-block width-32 model; seconds on a CPU."""

from __future__ import annotations

from pathlib import Path

from lm2.training.config import CurriculumConfig, DataConfig, OptimConfig, RunConfig, TrainConfig

TINY_MODEL = {
    "arch": "lm2", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
    "num_attention_heads": 4, "segment_length": 64,
}  # fmt: skip


def tiny_config(out: Path, **sections) -> TrainConfig:
    """A TrainConfig for tests; `sections` override fields, e.g. run={"steps": 4}, model={"arch": "rmt"}."""
    data = {"babi": "generate", "haystack": "prose", "validation_samples": 8, **sections.get("data", {})}
    run = {"out": str(out), "steps": 6, "batch_size": 4, "eval_every": 0, "save_every": 3, "log_every": 1,
           "threads": 1, "progress": False, **sections.get("run", {})}  # fmt: skip
    return TrainConfig(
        model={**TINY_MODEL, **sections.get("model", {})},
        data=DataConfig(**data),
        curriculum=CurriculumConfig(**sections.get("curriculum", {})),
        optim=OptimConfig(**{"lr": 3e-3, "warmup_steps": 2, **sections.get("optim", {})}),
        run=RunConfig(**run),
    )


def to_argv(config: TrainConfig) -> list[str]:
    """The command-line words of `config` (what a user would type)."""
    import dataclasses
    import json

    argv = ["--model", json.dumps(dataclasses.asdict(config.model))]
    for section in ("data", "curriculum", "optim", "run"):
        for key, value in vars(getattr(config, section)).items():
            if value is None:
                argv += [f"--{section}.{key}", "null"]
            elif isinstance(value, list | tuple):
                argv += [f"--{section}.{key}", json.dumps(list(value))]
            else:
                argv += [f"--{section}.{key}", str(value).lower() if isinstance(value, bool) else str(value)]
    return argv
