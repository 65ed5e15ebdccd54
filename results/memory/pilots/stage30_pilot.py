"""Pilot for docs/memory.md stage 30 (informs what stage 30 registers; decides nothing, and its seed, 4, is none
of the rule's seeds 0-3).

Stage 29 found that stage 11's default, trained on track, answers from block 0's read hardly at all at its training
length (the read returning only the rows' mean: 89.3 % against 96.1 %), so a centred read cannot cost track through
what it reads there. Block 0's read E_mem has three uses: the output gate (what the memory adds to the token), and
the forget gate and candidate (what the token writes). This pilot reads the bank twice in block 0, the rows as they
are and the rows minus their mean (stage 19's read), and gives the centred read to one use only:
`output` (the output gate reads the centred rows; the write reads the rows as they are) or `write` (the reverse).
Track with stage 13's curriculum, 4,800 steps, seed 4, the ladder's plan; the default beside them.

Usage: python results/memory/pilots/stage30_pilot.py ARM OUT.json   (ARM: none, output or write; one thread)
"""

import json
import sys
from pathlib import Path

import torch

import lm2.model.memory as memory_module
from lm2.bench.ladder import saved_plan
from lm2.model.variants import variant_config
from lm2.training.recall import task_report, train_recall

torch.set_num_threads(1)
torch.set_flush_denormal(True)
FOLDER, SEED = Path("results/memory/ladder-curriculum16"), 4
ARM = sys.argv[1]
original_forward = memory_module.LM2Memory.forward


def forward(self, *, x, attn, rows, bank, ctx, key=None, value=None, return_step=False, count_writes=False):
    if not self.reads_whole_bank or ARM == "none":
        return original_forward(self, x=x, attn=attn, rows=rows, bank=bank, ctx=ctx, key=key, value=value,
                                return_step=return_step, count_writes=count_writes)  # fmt: skip
    dtype = rows.dtype
    q = self._heads(memory_module.state_projection(self.q_proj, x, dtype))
    self.read_center = False
    k_plain, v_plain = self.keys_values(bank)
    self.read_center = True
    k_cent, v_cent = self.keys_values(bank)
    self.read_center = False
    plain, _ = memory_module.read_rows(q, k_plain, v_plain, None, False)
    centred, _ = memory_module.read_rows(q, k_cent, v_cent, None, False)
    b, _, n, _ = plain.shape
    plain, centred = (r.transpose(1, 2).reshape(b, n, -1).to(dtype) for r in (plain, centred))
    e_out, e_write = (centred, plain) if ARM == "output" else (plain, centred)
    gated, new_rows, *_ = memory_module.gate_and_update(
        memory_module.state_projection(self.out_gate, e_out, dtype),
        memory_module.state_projection(self.in_gate, x, dtype),
        memory_module.state_projection(self.forget_gate, e_write, dtype),
        e_write,
        rows,
        memory_module.rms_rows(rows),
        self.update,
        self.forget_floor,
        self.hard_gates,
        self.reopen_gates,
    )
    return memory_module.MemoryOutput(gated, new_rows, k_plain, v_plain, None, None)


memory_module.LM2Memory.forward = forward
plan = saved_plan(FOLDER, tasks=("track",))
if len(sys.argv) > 3:
    from dataclasses import replace

    plan = replace(plan, steps=int(sys.argv[3]))
base = plan.task("track")
config = variant_config("lm2-hard-floor-write0.1-warm", plan.backbone, vocab_size=base.vocab_size,
                        segment_length=plan.segment_length)  # fmt: skip
assert config.memory_query == "input" and config.memory_output == "bank" and config.memory_read_norm
run = train_recall(config, base, plan.steps, plan.batch_size, plan.lr, SEED, curriculum=plan.train_stages("track"))
model = run.model.eval()
out = {"arm": ARM, "seed": SEED, "steps": plan.steps, "accuracy": {}, "shortcut_share": {}}
with torch.no_grad():
    for multiple in plan.multiples:
        report = task_report(model, base, plan.samples, 1000 + SEED, multiple * plan.train_segments)
        out["accuracy"][multiple], out["shortcut_share"][multiple] = report["accuracy"], report["shortcut_share"]
        print(ARM, f"{multiple}x", report, flush=True)
Path(sys.argv[2]).write_text(json.dumps(out, indent=1))
