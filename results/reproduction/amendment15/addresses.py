"""Amendment 15c (docs/reproduction.md): where the delta write's tokens write, on the study's long inputs.

For each model folder (an LM2 with `memory_write="addressed"` or `"delta"`): the first 16,384 tokens of each held-out
book (`runs/reproduction/books/heldout`), read one segment at a time from a fresh stream, every memory block recorded
through a forward hook (`LM2Memory.forward(..., return_step=True)`, as `lm2.analysis.inspect.record_memory` does).
Per memory block, over all tokens and heads of the books: the share of (token, head) writes whose input gate is open
at all (mean g_in over the head's channels > 0), and among those the gate's mean, and the address's effective number
of rows, 1 / Σ_j a_j² (1: one row; 64: spread evenly over all), as median and share ≤ 2 and ≥ 16. Writes the same as
JSON.

    python results/reproduction/amendment15/addresses.py OUT.json MODEL_DIR...
"""

from __future__ import annotations

import json
import sys

import torch
from bank_range import held_out  # beside this file

TOKENS = 16_384


@torch.no_grad()
def addresses(model, ids: torch.Tensor) -> dict[int, list[tuple[torch.Tensor, torch.Tensor]]]:
    """Per memory block, one (effective rows `(h, n)`, gate mean per head `(h, n)`) per segment."""
    out: dict[int, list] = {}

    def hook(block: int):
        def record(module, args, kwargs, output) -> None:
            step = module.forward(*args, **{**kwargs, "return_step": True}).step
            a = step.address[0].double()  # (h, n, m)
            gate = step.gate_in[0].double()  # (n, d)
            h, n, _ = a.shape
            per_head = gate.view(n, h, -1).mean(-1).transpose(0, 1)  # (h, n)
            out.setdefault(block, []).append((1.0 / a.square().sum(-1), per_head))

        return record

    layers = model.model.layers
    handles = [layers[i].memory.register_forward_hook(hook(i), with_kwargs=True) for i in model.config.memory_layer_ids]
    try:
        state = model.model.initial_state(1, ids.device)
        for segment in ids[None].split(model.config.segment_length, dim=1):
            state = model(segment, memory=state, logits_to_keep=1).memory
    finally:
        for handle in handles:
            handle.remove()
    return out


def main(out: str, folders: list[str]) -> None:
    torch.set_num_threads(1)
    rows = {}
    for folder in folders:
        model, books = held_out(folder, TOKENS)
        if model.config.memory_write not in ("addressed", "delta"):
            raise SystemExit(f"{folder}: memory_write={model.config.memory_write!r} has no addresses")
        recorded: dict[int, list] = {}
        for ids in books.values():
            for block, parts in addresses(model, ids).items():
                recorded.setdefault(block, []).extend(parts)
        rows[folder] = {}
        print(folder, f"({len(books)} books, {TOKENS} tokens each)")
        for block, parts in sorted(recorded.items()):
            effective = torch.cat([e.flatten() for e, _ in parts])
            gate = torch.cat([g.flatten() for _, g in parts])
            open_ = gate > 0
            spread = effective[open_]
            stats = {
                "writes_open": round(float(open_.double().mean()), 4),
                "gate_mean_open": round(float(gate[open_].mean()), 4) if open_.any() else None,
                "effective_rows_median": round(float(spread.median()), 2) if open_.any() else None,
                "share_at_most_2_rows": round(float((spread <= 2).double().mean()), 4) if open_.any() else None,
                "share_at_least_16_rows": round(float((spread >= 16).double().mean()), 4) if open_.any() else None,
            }
            rows[folder][block] = stats
            print(f"  block {block}: " + ", ".join(f"{k} {v}" for k, v in stats.items()))
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
