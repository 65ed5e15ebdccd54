"""Diagnostic behind the tiny-CPU recipe: can a 2-block model learn qa1 stories cut to their first 2 facts?

Two facts, one question about an actor they place: answering needs the "which sentence is about X" lookup
(and, when both facts are about X, the later one). Trains on 60,000 generated questions, scores the top-1
answer token after `<ans>` on 1,000 other generated questions every 250 steps.

    python scripts/probes/two_fact_probe.py reference          # a plain GPT: learned positions, LayerNorm
    python scripts/probes/two_fact_probe.py vanilla            # our Llama backbone (full attention), init 0.02
    python scripts/probes/two_fact_probe.py vanilla --emb 1.0  # ... with token embeddings of std 1.0
    python scripts/probes/two_fact_probe.py vanilla --emb 1.0 --torch-linear-init

Logs quoted in docs/training.md: results/training/qa1_probes/two_fact_*.log (2026-11-26, 2 runs sharing the
2 cores, one thread each).
"""

from __future__ import annotations

import argparse
import random
import re
import time

import torch
import torch.nn.functional as F
from torch import nn

from lm2 import LM2Config, LM2ForCausalLM
from lm2.data import default_tokenizer
from lm2.data.babi_generator import generate_babi


class Reference(nn.Module):
    """A plain pre-norm GPT: learned absolute positions, LayerNorm, ReLU MLP, PyTorch's default init."""

    def __init__(self, vocab: int, width: int = 64, blocks: int = 2, heads: int = 4, positions: int = 256):
        super().__init__()
        self.embed, self.positions = nn.Embedding(vocab, width), nn.Embedding(positions, width)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(width, heads, 4 * width, 0.0, batch_first=True, norm_first=True)
            for _ in range(blocks)
        )
        self.norm, self.head = nn.LayerNorm(width), nn.Linear(width, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        n = ids.shape[1]
        x = self.embed(ids) + self.positions(torch.arange(n))
        causal = torch.triu(torch.full((n, n), float("-inf")), 1)
        for block in self.blocks:
            x = block(x, src_mask=causal)
        return self.head(self.norm(x))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", choices=["reference", "vanilla", "lm2"])
    p.add_argument("--facts", type=int, default=2, help="facts kept from each story")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--init", type=float, default=0.02, help="initializer_range of our backbone")
    p.add_argument("--emb", type=float, default=None, help="embedding_init_std of our backbone")
    p.add_argument("--torch-linear-init", action="store_true", help="re-initialise our linear layers as PyTorch does")
    p.add_argument("--seconds", type=float, default=150)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    tokenizer = default_tokenizer()

    def enc(text: str) -> list[int]:
        return tokenizer.encode(" " + text, add_special_tokens=False)

    def questions(stories) -> list[tuple[list[int], int]]:
        out = []
        for story in stories:
            facts, where = story.facts[: a.facts], {}
            for fact in facts:
                words = re.findall(r"[A-Za-z]+", fact)
                where[words[0]] = words[-1]
            name = rng.choice(sorted(where))
            ids = [tokenizer.bos_token_id, *enc(" ".join(facts)), *enc(f"Where is {name}?"), tokenizer.answer_token_id]
            out.append((ids, enc(where[name])[0]))
        return out

    train = questions(generate_babi("qa1", 60000, seed=a.seed + 5))
    test = questions(generate_babi("qa1", 1000, seed=a.seed + 99))

    def batch(items):
        ids = torch.zeros(len(items), max(len(i) for i, _ in items), dtype=torch.long)
        for row, (i, _) in enumerate(items):
            ids[row, : len(i)] = torch.tensor(i)
        last = torch.tensor([len(i) - 1 for i, _ in items])
        return ids, last, torch.tensor([answer for _, answer in items])

    if a.model == "reference":
        model = Reference(len(tokenizer))

        def logits(ids):
            return model(ids)
    else:
        extra = {"vanilla_mode": "full"} if a.model == "vanilla" else {}
        config = LM2Config(arch=a.model, vocab_size=len(tokenizer), hidden_size=64, intermediate_size=256,
                           num_hidden_layers=2, num_attention_heads=4, segment_length=128,
                           initializer_range=a.init, embedding_init_std=a.emb, **extra)  # fmt: skip
        model = LM2ForCausalLM(config)
        if a.torch_linear_init:
            for module in model.modules():
                if isinstance(module, nn.Linear) and module is not model.lm_head:
                    module.reset_parameters()

        def logits(ids):
            return model(input_ids=ids, attention_mask=(ids != 0).long()).logits

    print(sum(t.numel() for t in model.parameters()), "params", vars(a), flush=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.0)
    test_ids, test_last, test_answers = batch(test)
    start, step = time.time(), 0
    while time.time() - start < a.seconds:
        step += 1
        ids, last, answers = batch(rng.sample(train, 32))
        loss = F.cross_entropy(logits(ids)[torch.arange(len(ids)), last], answers)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % 250 == 0:
            with torch.no_grad():
                model.eval()
                predicted = logits(test_ids)[torch.arange(len(test)), test_last].argmax(-1)
                model.train()
            accuracy = (predicted == test_answers).float().mean().item()
            print(f"step {step} t {time.time() - start:.0f}s loss {loss.item():.3f} acc {accuracy:.3f}", flush=True)


if __name__ == "__main__":
    main()
