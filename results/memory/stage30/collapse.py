"""Stage 30 (docs/memory.md): how alike an act-2 LM2's bank rows become over a long input.

For each model folder: 4 inputs of 1,024 random token ids (generator seed 0; ids 4 and up, none special) run through
`record_memory`; printed per segment count (0, 8 = the training input, 16, 32, 64): the mean cosine between two
different bank rows and the mean row norm, averaged over the inputs, and each memory block's input gate (channel mean)
and share of exactly shut channels over the whole input. Writes the same as JSON beside this script.

    python results/memory/stage30/collapse.py OUT.json MODEL_DIR...
"""

from __future__ import annotations

import json
import sys

import torch

from lm2.analysis.inspect import record_memory
from lm2.integrations.pretrained import load_pretrained

SEGMENTS = (0, 8, 16, 32, 64)


def main(out: str, folders: list[str]) -> None:
    torch.set_num_threads(1)
    rows = {}
    for folder in folders:
        model, _ = load_pretrained(folder)
        ids = torch.randint(4, model.config.vocab_size, (4, 1024), generator=torch.Generator().manual_seed(0))
        trace = record_memory(model.eval(), ids)
        similarity, norm = trace.bank_similarity.mean(0), trace.bank_norm.mean((0, 2))
        rows[folder] = {
            "similarity": {s: round(float(similarity[s]), 3) for s in SEGMENTS},
            "row_norm": {s: round(float(norm[s]), 3) for s in SEGMENTS},
            "gate_in": [round(float(g.mean()), 4) for g in trace.gate_in],
            "gate_in_shut": [round(float(g.mean()), 3) for g in trace.gate_in_shut],
        }
        r = rows[folder]
        print(folder)
        print("  row similarity after 0/8/16/32/64 segments:", list(r["similarity"].values()))
        print("  row norm after 0/8/16/32/64 segments:", list(r["row_norm"].values()))
        print("  g_in per block:", r["gate_in"], "exactly shut:", r["gate_in_shut"])
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
