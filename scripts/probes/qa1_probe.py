"""Probe for the tiny-CPU BABILong recipe: train a tiny model on bAbI qa1 at 0k (the facts alone), loss on
the answer tokens, and print the teacher-forced test accuracy (all answer tokens right) every 250 steps.

    python scripts/probes/qa1_probe.py --arch lm2 --width 64 --blocks 2 --lr 1e-3 --tie --hard-fraction 0.8

The runs quoted in docs/training.md and their logs are in results/training/qa1_probes/.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import time

import torch

from lm2 import LM2Config, LM2ForCausalLM
from lm2.data import babi_samples, default_tokenizer, encode_sample


def encode(tokenizer, samples) -> list[dict]:
    items = []
    for s in samples:
        item = encode_sample(tokenizer, {"input": " ".join(s.facts), "question": s.question, "target": s.answer})
        item["hard"] = re.findall(r"[a-z]+", s.facts[-1])[-1] != s.answer  # the last fact's location is wrong
        items.append(item)
    return items


def collate(items: list[dict]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(e["input_ids"]) for e in items)
    ids = torch.zeros(len(items), width, dtype=torch.long)
    labels = torch.full_like(ids, -100)
    mask = torch.zeros_like(ids)
    for i, e in enumerate(items):
        x = torch.tensor(e["input_ids"])
        ids[i, : len(x)], mask[i, : len(x)] = x, 1
        labels[i, e["answer_start"] : len(x)] = x[e["answer_start"] :]
    return ids, labels, mask


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--arch", default="lm2")
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--hard-fraction", type=float, default=0.0, help="share of samples the shortcut gets wrong")
    p.add_argument("--tie", action="store_true", help="tie input and output embeddings")
    p.add_argument("--test-samples", type=int, default=1000)
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--seconds", type=float, default=1300)
    args = p.parse_args()
    torch.set_num_threads(1)
    tokenizer = default_tokenizer()
    train = encode(tokenizer, babi_samples("qa1", "train"))
    test = encode(tokenizer, babi_samples("qa1", "test")[: args.test_samples])
    hard = [e for e in train if e["hard"]]
    print(
        f"{len(train)} train, {len(hard)} hard; shortcut test accuracy {1 - sum(e['hard'] for e in test) / len(test)}"
    )
    extra = {"vanilla_mode": "segmented"} if args.arch == "vanilla" else {}
    config = LM2Config(
        arch=args.arch, vocab_size=len(tokenizer), hidden_size=args.width, intermediate_size=4 * args.width,
        num_hidden_layers=args.blocks, num_attention_heads=4, segment_length=128, num_memory_tokens=8,
        tie_word_embeddings=args.tie, **extra,
    )  # fmt: skip
    torch.manual_seed(0)
    model = LM2ForCausalLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.1, betas=(0.9, 0.95))
    warm, total = 200, args.steps
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1, (s + 1) / warm) * (0.1 + 0.45 * (1 + math.cos(math.pi * min(s, total) / total)))
    )
    rng, start, test_batch = random.Random(0), time.time(), collate(test)
    for step in range(1, total + 1):
        items = [
            rng.choice(hard) if rng.random() < args.hard_fraction else rng.choice(train) for _ in range(args.batch)
        ]
        ids, labels, mask = collate(items)
        loss = model(ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % 250 == 0:
            with torch.no_grad():
                logits = model.eval()(test_batch[0], attention_mask=test_batch[2]).logits
            model.train()
            guess, target = logits[:, :-1].argmax(-1), test_batch[1][:, 1:]
            accuracy = ((guess == target) | (target == -100)).all(1).float().mean().item()
            print(f"step {step} {time.time() - start:.0f}s loss {loss.item():.3f} acc {accuracy:.3f}", flush=True)
            if time.time() - start > args.seconds:
                break


if __name__ == "__main__":
    main()
