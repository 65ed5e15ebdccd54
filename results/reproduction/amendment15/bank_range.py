"""Amendment 15 (docs/reproduction.md): where the delta write's bank goes on the study's long inputs.

For each model folder: the first 65,536 tokens of each held-out book (`runs/reproduction/books/heldout`, the study's
test background), read one segment at a time from a fresh stream. Printed after 16, 64 (the longest training input),
128, 256 (16k) and 1,024 segments (64k), averaged over the books: the rows' mean L2 norm, the largest |entry|, and
the share of entries outside [-1, 1] (the range of the candidates, tanh, which the convex mix never leaves). Writes
the same as JSON.

    python results/reproduction/amendment15/bank_range.py OUT.json MODEL_DIR...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from lm2.integrations.pretrained import load_pretrained

BOOKS = Path("runs/reproduction/books/heldout")
TOKENS = 65_536
SEGMENTS = (16, 64, 128, 256, 1024)


@torch.no_grad()
def bank_range(model, ids: torch.Tensor) -> dict[int, tuple[float, float, float]]:
    """(mean row norm, max |entry|, share of entries outside [-1, 1]) of the bank after each of `SEGMENTS`."""
    state = model.model.initial_state(1, ids.device)
    out = {}
    for s, segment in enumerate(ids[None].split(model.config.segment_length, dim=1), 1):
        state = model(segment, memory=state, logits_to_keep=1).memory
        if s in SEGMENTS:
            bank = state.memory.double()
            out[s] = (float(bank.norm(dim=-1).mean()), float(bank.abs().max()), float((bank.abs() > 1).double().mean()))
    return out


def held_out(folder: str, tokens: int):
    """The model of `folder` (eval mode) and each held-out book's first `tokens` token ids `(tokens,)`, by name."""
    model, tokenizer = load_pretrained(folder)
    books = {}
    for book in sorted(BOOKS.glob("*.txt")):
        ids = tokenizer(book.read_text(encoding="utf-8"), add_special_tokens=False)["input_ids"][:tokens]
        books[book.stem] = torch.tensor(ids)
    return model.eval(), books


def main(out: str, folders: list[str]) -> None:
    torch.set_num_threads(1)
    rows = {}
    for folder in folders:
        model, books = held_out(folder, TOKENS)
        per_book = [bank_range(model, ids) for ids in books.values()]
        mean = {s: [round(sum(b[s][k] for b in per_book) / len(per_book), 3) for k in range(3)] for s in SEGMENTS}
        rows[folder] = {"books": len(per_book), "after_segments": mean}
        print(folder, f"({len(per_book)} books)")
        for s in SEGMENTS:
            norm, top, outside = mean[s]
            print(f"  after {s:5d} segments: row norm {norm:.3f}, max |entry| {top:.3f}, outside [-1, 1] {outside:.3f}")
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
