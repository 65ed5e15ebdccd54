"""Stage 27 of docs/memory.md: what the split read does on track (a diagnosis; it decides nothing).

Trains seed 1 of track with stage 13's curriculum (4,800 steps, the plan of results/memory/ladder-curriculum16) for
stage 11's default and the split read, exactly as `lm2 bench memory` trains those cells, checks that each scores
what its cell file records, then reads 64 held-out inputs at 1x and 16x with `lm2.analysis.inspect.record_memory`
and prints, per model and length: the rows' mean cosine after the last segment, block 0's read at the asked key
(the question's first token: entropy, largest weight, and for the split read the weight on the rows' mean), and
the accuracy. Usage: python results/memory/stage27/diagnose.py OUT.json   (one thread, about 15 minutes)
"""

import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

from lm2.analysis.inspect import read_entropy, record_memory
from lm2.bench.ladder import saved_plan
from lm2.model.variants import variant_config
from lm2.training.recall import task_report, train_recall

torch.set_num_threads(1)
torch.set_flush_denormal(True)
FOLDER = Path("results/memory/ladder-curriculum16")
plan = saved_plan(FOLDER, tasks=("track",))
if len(sys.argv) > 2:  # a smoke run: python diagnose.py OUT.json STEPS
    plan = replace(plan, steps=int(sys.argv[2]))
SEED, MODELS, MULTIPLES = 1, ("lm2-hard-floor-write0.1-warm", "lm2-hard-floor-write0.1-warm-center-split"), (1, 16)
out = {}
for name in MODELS:
    base = plan.task("track")
    config = variant_config(name, plan.backbone, vocab_size=base.vocab_size, segment_length=plan.segment_length)
    model = train_recall(config, base, plan.steps, plan.batch_size, plan.lr, SEED,
                         curriculum=plan.train_stages("track")).model.eval()  # fmt: skip
    cell = json.loads((FOLDER / "cells" / f"track-{name}-seed{SEED}.json").read_text())
    out[name] = {}
    for multiple in MULTIPLES:
        segments = multiple * plan.train_segments
        report = task_report(model, base, plan.samples, 1000 + SEED, segments)
        ids, _ = replace(base, segments=segments).batch(plan.samples, torch.Generator().manual_seed(1000 + SEED))
        with torch.no_grad():
            trace = record_memory(model, ids[:, :-1], blocks=[model.config.memory_layer_ids[0]])
        asked = trace.read[0, :, -1]  # (b, columns): block 0's read at the asked key, the last input token
        split = trace.read.shape[-1] == plan.segment_length + 1  # the last column is the rows' mean
        row = {
            "accuracy": report["accuracy"],
            "cell_accuracy": cell["accuracy"][str(multiple)],
            "row_cosine_last": float(trace.bank_similarity[:, -1].mean()),
            "row_cosine_entering_last_segment": float(trace.bank_similarity[:, -2].mean()),
            "asked_entropy_bits": float(read_entropy(trace)[0, :, -1].mean()),
            "asked_top_weight": float(asked.max(-1).values.mean()),
            "mean_row_weight_asked": float(asked[:, -1].mean()) if split else None,
            "mean_row_weight_all_tokens": float(trace.read[0, :, :, -1].mean()) if split else None,
        }
        out[name][multiple] = row
        print(name, multiple, row, flush=True)
Path(sys.argv[1]).write_text(json.dumps(out, indent=1))
