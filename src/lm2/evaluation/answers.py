"""Batched greedy answers to BABILong prompts, and their score under the BABILong metric."""

from __future__ import annotations

import torch

from lm2.data import compare_answers


@torch.no_grad()
def generate_answers(
    model, tokenizer, prompts: list[list[int]], max_new_tokens: int = 8, batch_size: int = 16
) -> list[str]:
    """Greedy continuations of `prompts` (token ids ending with `<ans>`), stopped at `</s>`, decoded.

    Prompts are left-padded into batches; the model reads any prompt length through its segments and
    decodes with its cache."""
    device = next(model.parameters()).device
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    answers: list[str] = []
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))  # similar lengths share a batch
    decoded: dict[int, str] = {}
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        width = max(len(prompts[i]) for i in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for r, i in enumerate(rows):
            ids[r, width - len(prompts[i]) :] = torch.tensor(prompts[i])
            mask[r, width - len(prompts[i]) :] = 1
        out = model.generate(
            ids.to(device), attention_mask=mask.to(device), max_new_tokens=max_new_tokens, do_sample=False,
            eos_token_id=eos, pad_token_id=pad,
        )  # fmt: skip
        for r, i in enumerate(rows):
            decoded[i] = tokenizer.decode(out[r, width:].tolist(), skip_special_tokens=True).strip()
    answers = [decoded[i] for i in range(len(prompts))]
    return answers


def accuracy(targets: list[str], outputs: list[str], questions: list[str], task: str, mode: str = "fixed") -> float:
    """Share of outputs the BABILong metric accepts."""
    if not targets:
        return 0.0
    hits = sum(compare_answers(t, o, q, task, mode=mode) for t, o, q in zip(targets, outputs, questions, strict=True))
    return hits / len(targets)
