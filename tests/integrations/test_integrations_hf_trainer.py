"""`transformers.Trainer` trains an `LM2ForCausalLM`: it passes `num_items_in_batch` to `forward`, and with it
gradient accumulation takes the step one large batch would (docs/ecosystem.md)."""

from __future__ import annotations

import math

import pytest
import torch

from tests.conftest import tiny_model

pytest.importorskip("accelerate")  # the Trainer needs it (the `dev` extra installs it)
from transformers import Trainer, TrainingArguments  # noqa: E402


def samples(count: int = 8, seed: int = 0) -> list[dict]:
    """Token sequences of 7..14 tokens (so batches are padded), the first 3 tokens of each unscored."""
    generator = torch.Generator().manual_seed(seed)
    items = []
    for _ in range(count):
        length = int(torch.randint(7, 15, (1,), generator=generator))
        ids = torch.randint(4, 50, (length,), generator=generator)
        labels = ids.clone()
        labels[:3] = -100
        items.append({"input_ids": ids, "labels": labels})
    return items


def collate(items: list[dict]) -> dict:
    """Right-padded batch: pad id 0, attention mask 0 and label -100 on the pads."""
    width = max(len(item["input_ids"]) for item in items)
    batch = {"input_ids": [], "attention_mask": [], "labels": []}
    for item in items:
        pad = width - len(item["input_ids"])
        batch["input_ids"].append(torch.cat([item["input_ids"], torch.zeros(pad, dtype=torch.long)]))
        batch["attention_mask"].append(torch.cat([torch.ones(width - pad), torch.zeros(pad)]).long())
        batch["labels"].append(torch.cat([item["labels"], torch.full((pad,), -100)]))
    return {key: torch.stack(rows) for key, rows in batch.items()}


def arguments(tmp_path, batch: int, accumulation: int, steps: int, lr: float) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(tmp_path), max_steps=steps, per_device_train_batch_size=batch,
        gradient_accumulation_steps=accumulation, learning_rate=lr, optim="sgd", lr_scheduler_type="constant",
        weight_decay=0.0, max_grad_norm=0.0, use_cpu=True, report_to="none", save_strategy="no", logging_steps=1,
        seed=0, dataloader_num_workers=0, disable_tqdm=True,
    )  # fmt: skip


def test_trainer_trains_a_tiny_model(tmp_path):
    model = tiny_model("lm2").train()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    trainer = Trainer(
        model=model, args=arguments(tmp_path, 2, 2, 4, 0.5), train_dataset=samples(), data_collator=collate
    )
    trainer.train()
    losses = [record["loss"] for record in trainer.state.log_history if "loss" in record]
    assert len(losses) == 4 and all(math.isfinite(loss) for loss in losses)
    moved = [name for name, p in model.named_parameters() if not torch.equal(p.detach(), before[name])]
    assert "model.layers.0.memory.in_gate.weight" in moved and "lm_head.weight" in moved


def test_accumulated_steps_equal_one_large_batch(tmp_path):
    """One SGD step on the same 4 samples: as 1 batch of 4, 2 accumulated batches of 2, 4 of 1. Their targets
    are spread unevenly, so averaging each micro-batch's mean (the loss without `num_items_in_batch`) would
    give another step."""
    weights = []
    for batch, accumulation in ((4, 1), (2, 2), (1, 4)):
        model = tiny_model("lm2").train()
        args = arguments(tmp_path / f"{batch}x{accumulation}", batch, accumulation, 1, 1.0)
        Trainer(model=model, args=args, train_dataset=samples(4), data_collator=collate).train()
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    start = torch.cat([p.detach().flatten() for p in tiny_model("lm2").parameters()])
    assert (weights[0] - start).abs().max() > 1e-3  # the step moved the weights
    for accumulated in weights[1:]:
        torch.testing.assert_close(accumulated, weights[0], rtol=0, atol=1e-12)  # float64: rounding only
