"""Checkpoints: `save_pretrained` weights + tokenizer + trainer state, written atomically.

A checkpoint is a directory `step-NNNNNNNN/` holding the model (`model.safetensors`, `config.json`), the
tokenizer and `trainer.pt` (optimizer, scheduler, RNG and data-stream state). It is written under a
temporary name and renamed into place only when complete, so a crash mid-write never leaves a directory
that loads as a checkpoint. Only the last `keep` checkpoints stay.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
from pathlib import Path

import torch

from lm2.integrations.pretrained import no_progress_bars

log = logging.getLogger(__name__)
PREFIX = "step-"


def checkpoint_dirs(out: Path) -> list[Path]:
    """Complete checkpoints in `out`, oldest first."""
    found = [p for p in out.glob(f"{PREFIX}*") if p.is_dir() and (p / "trainer.pt").exists()]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX) :]))


def latest_checkpoint(out: Path) -> Path | None:
    dirs = checkpoint_dirs(out)
    return dirs[-1] if dirs else None


def rng_state() -> dict:
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _fsync_tree(path: Path) -> None:
    for file in path.rglob("*"):
        if file.is_file():
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())


def save_checkpoint(
    out: Path, step: int, model, tokenizer, trainer_state: dict, keep: int, weights: dict | None = None
) -> Path:
    """Write checkpoint `step` atomically and prune old ones; returns its directory. `weights` is a full
    state dict when the live parameters are sharded (FSDP)."""
    final = out / f"{PREFIX}{step:08d}"
    tmp = out / f".tmp-{PREFIX}{step:08d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    with no_progress_bars():
        model.save_pretrained(tmp, state_dict=weights)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
    torch.save(trainer_state, tmp / "trainer.pt")
    _fsync_tree(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in checkpoint_dirs(out)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    for stale in out.glob(f".tmp-{PREFIX}*"):  # leftovers of crashed writes
        shutil.rmtree(stale, ignore_errors=True)
    log.info("saved checkpoint %s", final)
    return final


def load_trainer_state(path: Path) -> dict:
    return torch.load(path / "trainer.pt", map_location="cpu", weights_only=False)
