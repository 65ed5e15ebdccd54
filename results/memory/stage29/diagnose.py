"""Stage 29 of docs/memory.md: where stage 11's default keeps track's answer (a diagnosis; it decides nothing).

Trains seed 1 of track with stage 13's curriculum and 9,600 steps (the plan of
results/memory/ladder-curriculum16-steps9600, where stage 11's default learns track on this seed and the gated mean
does not: stage 28b) exactly as `lm2 bench memory` trains that cell, checks it against its cell file, then evaluates
held-out inputs at 1x and 16x while the first memory block's read of the entering bank is changed, at evaluation
only, in what it sees:

- stage 11's default: `none`; `centred` (keys and values from the rows minus their mean: stage 19's read, zero-shot);
  `centred-keys` (keys from the centred rows, values from the rows as they are: stage 22's read); `mean-only` (every
  row replaced by the rows' mean, so the read returns what the rows share and nothing else);
- the gated mean (`memory_read_center="gated"`): `none`; `gate-0` (the mean not read); `gate-1` (the mean read in
  full).

Nothing else changes (the later block, the output g_out * M_t[i], the update all see the bank as it is). Each answer
is sorted into: `latest` (right), `stale` (a value the asked key held earlier in the input), `last-seen` (the last
value assigned to any key: the shortcut), `other-value` (another value token), `not-a-value`.

Usage: python results/memory/stage29/diagnose.py MODEL OUT.json [STEPS]   (one thread; MODEL as in the registry;
STEPS only for a smoke run)
"""

import json
import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import torch

import lm2.model.memory as memory_module
from lm2.bench.ladder import saved_plan
from lm2.data.recall import RESERVED
from lm2.model.variants import variant_config
from lm2.training.recall import task_report, train_recall

torch.set_num_threads(1)
torch.set_flush_denormal(True)
FOLDER = Path("results/memory/ladder-curriculum16-steps9600")
SEED, MULTIPLES, SAMPLES, EVAL_SEED = 1, (1, 16), 512, 2029
INTERVENTIONS = {
    "lm2-hard-floor-write0.1-warm": ("none", "centred", "centred-keys", "mean-only"),
    "lm2-hard-floor-write0.1-warm-center-gated": ("none", "gate-0", "gate-1"),
}


@contextmanager
def intervention(model, name: str):
    """Change what the first memory block's read of the entering bank sees, for the duration of the block."""
    first = next(block.memory for block in model.model.layers if block.memory is not None)
    saved_center, saved_keys_values, saved_gated = first.read_center, first.keys_values, memory_module.read_gated_mean
    if name in ("centred", "centred-keys"):
        first.read_center = True if name == "centred" else "keys"
    elif name == "mean-only":
        first.keys_values = lambda rows: saved_keys_values(rows.mean(1, keepdim=True).expand_as(rows))
    elif name in ("gate-0", "gate-1"):
        fixed = 0.0 if name == "gate-0" else 1.0

        def read(q, key, value, explicit):
            rows_read, weights = memory_module.read_rows(q, key[..., :-1, :], value[..., :-1, :], None, explicit)
            return rows_read + fixed * value[..., -1:, :].to(rows_read.dtype), weights

        memory_module.read_gated_mean = read
    elif name != "none":
        raise ValueError(f"intervention={name!r} is not known")
    try:
        yield
    finally:
        first.read_center, memory_module.read_gated_mean = saved_center, saved_gated
        if "keys_values" in vars(first):
            del first.keys_values


def categories(ids: torch.Tensor, answers: torch.Tensor, task) -> dict[str, float]:
    """The share of answers in each category (module docstring), from the inputs themselves."""
    key0, value0, noise0 = RESERVED, RESERVED + task.keys, RESERVED + task.keys + task.values
    body = ids[:, :-2]
    counts = dict.fromkeys(("latest", "stale", "last-seen", "other-value", "not-a-value"), 0)
    for row, asked, right, answer in zip(body, ids[:, -2], ids[:, -1], answers, strict=True):
        is_key = (row[:-1] >= key0) & (row[:-1] < value0)
        pairs = [(int(row[i]), int(row[i + 1])) for i in torch.nonzero(is_key).flatten().tolist()]
        held = {v for k, v in pairs if k == int(asked)}
        if answer == right:
            counts["latest"] += 1
        elif int(answer) in held:
            counts["stale"] += 1
        elif int(answer) == pairs[-1][1]:
            counts["last-seen"] += 1
        elif value0 <= int(answer) < noise0:
            counts["other-value"] += 1
        else:
            counts["not-a-value"] += 1
    return {k: round(100 * v / len(answers), 1) for k, v in counts.items()}


def main() -> None:
    name, out_path = sys.argv[1], Path(sys.argv[2])
    plan = saved_plan(FOLDER, tasks=("track",))
    if len(sys.argv) > 3:
        plan = replace(plan, steps=int(sys.argv[3]))
    base = plan.task("track")
    config = variant_config(name, plan.backbone, vocab_size=base.vocab_size, segment_length=plan.segment_length)
    model = train_recall(config, base, plan.steps, plan.batch_size, plan.lr, SEED,
                         curriculum=plan.train_stages("track")).model.eval()  # fmt: skip
    cell = json.loads((FOLDER / "cells" / f"track-{name}-seed{SEED}.json").read_text())
    out = {"model": name, "seed": SEED, "steps": plan.steps, "samples": SAMPLES, "eval_seed": EVAL_SEED, "lengths": {}}
    for multiple in MULTIPLES:
        segments = multiple * plan.train_segments
        task = replace(base, segments=segments)
        with torch.no_grad():
            check = task_report(model, base, plan.samples, 1000 + SEED, segments)["accuracy"]
            ids, _ = task.batch(SAMPLES, torch.Generator().manual_seed(EVAL_SEED))
            row = {"cell_check": {"accuracy": check, "cell_accuracy": cell["accuracy"][str(multiple)]}}
            for what in INTERVENTIONS[name]:
                with intervention(model, what):
                    answers = torch.cat([model(c[:, :-1], logits_to_keep=1).logits[:, -1].argmax(-1)
                                         for c in ids.split(128)])  # fmt: skip
                row[what] = categories(ids, answers, task)
                print(name, f"{multiple}x", what, row[what], flush=True)
        out["lengths"][str(multiple)] = row
    out_path.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
