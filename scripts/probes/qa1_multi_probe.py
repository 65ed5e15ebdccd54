"""Probe for the tiny-CPU qa1 recipe with denser supervision than one answer per sample.

Each training sample is a real bAbI qa1 story (en-10k train) followed by its question and, with `--multi`,
questions about every other actor whose place the facts state (answers computed from the facts: an actor
is where its last sentence put it), each scored. `--prefix` cuts the story after a random number of facts
first (short stories are easy: a curriculum over the number of facts inside every batch). The test score is
the top-1 answer token after `<ans>` on the first 1,000 real qa1 test questions in the standard BABILong
0k format (one question), printed every 250 steps.

    python scripts/probes/qa1_multi_probe.py --multi 1.0 --prefix --seconds 900

Logs of the runs quoted in docs/training.md are in results/training/qa1_probes/multi_*.log.
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
from lm2.data.babi_generator import generate_babi

IGNORE = -100


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="lm2")
    p.add_argument("--vmode", default="segmented", help="vanilla_mode when --arch vanilla")
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--seglen", type=int, default=128, help="segment_length")
    p.add_argument("--tie", action="store_true", help="tie input and output embeddings")
    p.add_argument("--init", type=float, default=0.02, help="initializer_range (std of the weight init)")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--wd", type=float, default=0.1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--multi", type=float, default=0.0, help="share of samples that also ask about all other actors")
    p.add_argument("--prefix", action="store_true", help="cut each story after a random number of facts")
    p.add_argument("--steps", type=int, default=6000, help="length of the cosine schedule")
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--emb-init", type=float, default=None, help="embedding_init_std (default: --init)")
    p.add_argument("--theta", type=float, default=10000.0, help="RoPE base (rope_theta)")
    p.add_argument("--head-dim", type=int, default=None, help="head_dim (default width / heads)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--generated", type=int, default=0, help="train on this many generated qa1 questions instead")
    p.add_argument(
        "--facts",
        default="",
        help="curriculum over story length: 'k1:s1,k2:s2' cuts stories to at most "
        "k1 facts until step s1, then k2 until s2; later steps use whole stories",
    )
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    stages = [tuple(map(int, x.split(":"))) for x in a.facts.split(",") if x]
    torch.set_num_threads(a.threads)
    tokenizer = default_tokenizer()

    def enc(text: str) -> list[int]:
        return tokenizer.encode(" " + text, add_special_tokens=False)

    rng = random.Random(a.seed)
    train, test = babi_samples("qa1", "train"), babi_samples("qa1", "test")[:1000]
    if a.generated:
        train = generate_babi("qa1", a.generated, seed=a.seed + 1)

    def item(sample, multi: bool, step: int = 0) -> tuple[list[int], list[int]]:
        facts = sample.facts[: rng.randint(1, len(sample.facts))] if a.prefix else sample.facts
        cap = next((k for k, until in stages if step <= until), None)
        if cap is not None:
            facts = facts[:cap]
        where = {}
        for fact in facts:
            words = re.findall(r"[A-Za-z]+", fact)
            where[words[0]] = words[-1]
        name = sample.question.split()[-1].rstrip("?")
        questions = [(sample.question, sample.answer)] if where.get(name) == sample.answer else []
        if not questions:  # the cut story no longer answers the original question: ask about someone else
            asked = rng.choice(sorted(where))
            questions = [(f"Where is {asked}?", where[asked])]
        if multi:
            others = [k for k in sorted(where) if k not in questions[0][0]]
            rng.shuffle(others)
            questions += [(f"Where is {k}?", where[k]) for k in others]
        ids = [tokenizer.bos_token_id, *enc(" ".join(facts))]
        labels = [IGNORE] * len(ids)
        for question, answer in questions:
            q, t = enc(question) + [tokenizer.answer_token_id], enc(answer)
            ids += q + t
            labels += [IGNORE] * len(q) + t
        return ids + [tokenizer.eos_token_id], labels + [tokenizer.eos_token_id]

    def collate(items):
        width = max(len(i) for i, _ in items)
        ids = torch.zeros(len(items), width, dtype=torch.long)
        labels, mask = torch.full_like(ids, IGNORE), torch.zeros_like(ids)
        for r, (i, lab) in enumerate(items):
            ids[r, : len(i)], labels[r, : len(lab)], mask[r, : len(i)] = torch.tensor(i), torch.tensor(lab), 1
        return ids, labels, mask

    prompts = [
        encode_sample(tokenizer, {"input": " ".join(s.facts), "question": s.question, "target": ""}, False)["input_ids"]
        for s in test
    ]
    answers = torch.tensor([enc(s.answer)[0] for s in test])
    test_ids, _, test_mask = collate([(x, x) for x in prompts])
    last = test_mask.sum(1) - 1

    extra = {"vanilla_mode": a.vmode} if a.arch == "vanilla" else {}
    config = LM2Config(
        arch=a.arch, vocab_size=len(tokenizer), hidden_size=a.width, intermediate_size=4 * a.width,
        num_hidden_layers=a.blocks, num_attention_heads=a.heads, segment_length=a.seglen, num_memory_tokens=8,
        tie_word_embeddings=a.tie, initializer_range=a.init, head_dim=a.head_dim, embedding_init_std=a.emb_init,
        rope_parameters={"rope_type": "default", "rope_theta": a.theta}, **extra,
    )  # fmt: skip
    torch.manual_seed(a.seed)
    model = LM2ForCausalLM(config)
    print(sum(p.numel() for p in model.parameters()), "params", vars(a), flush=True)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
    groups = [{"params": decay, "weight_decay": a.wd}, {"params": rest, "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.95))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1, (s + 1) / 100) * (0.1 + 0.45 * (1 + math.cos(math.pi * min(s, a.steps) / a.steps)))
    )

    @torch.no_grad()
    def test_accuracy() -> float:
        model.eval()
        logits = model(input_ids=test_ids, attention_mask=test_mask).logits
        model.train()
        return (logits[torch.arange(len(test)), last].argmax(-1) == answers).float().mean().item()

    start = time.time()
    for step in range(1, a.steps + 1):
        batch = [item(train[rng.randrange(len(train))], rng.random() < a.multi, step) for _ in range(a.batch)]
        ids, labels, mask = collate(batch)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % 250 == 0:
            elapsed = time.time() - start
            print(f"step {step} t {elapsed:.0f}s loss {loss.item():.3f} acc {test_accuracy():.3f}", flush=True)
        if time.time() - start > a.seconds:
            break
    print(f"final step {step} t {time.time() - start:.0f}s acc {test_accuracy():.3f}", flush=True)


if __name__ == "__main__":
    main()
