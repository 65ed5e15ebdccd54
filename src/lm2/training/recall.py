"""Training and scoring on the synthetic memory tasks: cross-segment recall (`lm2.data.recall`) and state
tracking (`lm2.data.track`), the rungs of the memory ladder (`lm2.bench.ladder`).

Small and quick on purpose: recall is the first act of `lm2 demo` and the memory-learning test, showing in a
minute on a CPU whether a model carries information across segments at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import torch

from lm2.data.recall import RecallTask
from lm2.data.track import TrackTask
from lm2.model import LM2Config, LM2ForCausalLM, MemoryState

Task = RecallTask | TrackTask


@dataclass
class RecallRun:
    model: LM2ForCausalLM
    losses: list[float] = field(default_factory=list)
    diverged_at: int | None = None  # the step whose loss was not finite; training stopped before updating


def train_recall(
    config: LM2Config,
    task: Task,
    steps: int,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    device: str = "cpu",
    on_step: Callable[[int, float], None] | None = None,
    curriculum: Sequence[Sequence[int]] = (),
) -> RecallRun:
    """Train a fresh model of `config` with AdamW (constant `lr`, gradient clipping at 1) on `steps` batches
    of `task`; the loss scores the answer token only. `curriculum` sets the number of segments of each batch
    instead of `task.segments` (`curriculum_segments`): the steps split into equal stages, stage i cycling
    through `curriculum[i]` (step k, counted from 1 over the whole run, uses `curriculum[i][k % len]`). One
    stage (e.g. `[(2, 3, 4)]`) mixes distances throughout, so that the memory learns to keep the fact rather
    than keep it for one fixed number of segments; several (e.g. `[(2,), (2, 3, 4)]`) train short inputs
    first, as the RMT/ARMT BABILong curricula.

    A loss that is not finite stops training before its update (`RecallRun.diverged_at`): the model keeps the
    last finite weights, and the run says that it diverged instead of training on NaN."""
    stages = [list(lengths) for lengths in curriculum]
    if any(not lengths for lengths in stages):
        raise ValueError(f"curriculum={stages} has an empty stage")
    torch.manual_seed(seed)
    model = LM2ForCausalLM(config).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    run = RecallRun(model)
    for step in range(1, steps + 1):
        current = replace(task, segments=curriculum_segments(step, steps, stages)) if stages else task
        ids, labels = current.batch(batch_size, generator)
        loss = model(ids.to(device), labels=labels.to(device)).loss
        if not torch.isfinite(loss):
            run.diverged_at = step
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        run.losses.append(loss.item())
        if on_step is not None:
            on_step(step, run.losses[-1])
    model.eval()
    return run


def curriculum_segments(step: int, steps: int, stages: Sequence[Sequence[int]]) -> int:
    """The number of segments of batch `step` (1..`steps`) of `train_recall`: the steps split into
    `len(stages)` stages of equal length (to one step), stage i cycling through `stages[i]`."""
    lengths = stages[(step - 1) * len(stages) // steps]
    return lengths[step % len(lengths)]


@torch.no_grad()
def task_scores(
    model: LM2ForCausalLM, task: Task, samples: int = 512, seed: int = 123, segments: int | None = None
) -> tuple[float, float | None]:
    """(accuracy, memory norm) on held-out samples: the share whose answer is the model's top prediction,
    and the mean norm of the memory rows the inputs leave (`memory_norm`); `segments` evaluates on longer
    inputs (more segments between what is stored and the question) than the task trained on."""
    report = task_report(model, task, samples, seed, segments)
    return report["accuracy"], report["norm"]


@torch.no_grad()
def task_report(
    model: LM2ForCausalLM, task: Task, samples: int = 512, seed: int = 123, segments: int | None = None
) -> dict[str, float | None]:
    """`task_scores`' accuracy and norm, with `shortcut_share`: the share of the model's answers that its
    task's shortcut allows (`task.shortcut_share`: capacity, one of the stored values; track, the last value
    seen; None for one-pair recall) — how the model answers where it does not answer right."""
    if segments is not None:
        task = replace(task, segments=segments)
    ids, _ = task.batch(samples, torch.Generator().manual_seed(seed))
    device = next(model.parameters()).device
    answers, norms = [], []
    for chunk in ids.split(128):
        out = model(chunk[:, :-1].to(device), logits_to_keep=1)
        answers.append(out.logits[:, -1].argmax(-1).cpu())
        norms.append(memory_norm(out.memory))
    answers = torch.cat(answers)
    return {
        "accuracy": int((answers == ids[:, -1]).sum()) / samples,
        "norm": None if norms[0] is None else sum(norms) / len(norms),
        "shortcut_share": task.shortcut_share(ids, answers),
    }


def recall_accuracy(
    model: LM2ForCausalLM, task: Task, samples: int = 512, seed: int = 123, segments: int | None = None
) -> float:
    """The accuracy of `task_scores`."""
    return task_scores(model, task, samples, seed, segments)[0]


def memory_norm(state: MemoryState) -> float | None:
    """The size of the memory that crosses segments: the mean L2 norm of its rows (LM2 bank rows, RMT memory
    tokens) or, for ARMT, the mean Frobenius norm of the blocks' associative matrices A; None without one."""
    if state.associative is not None:  # (b, layers, f, d)
        return float(state.associative.detach().float().flatten(2).norm(dim=-1).mean())
    if state.memory is None:
        return None
    return float(state.memory.detach().float().norm(dim=-1).mean())
