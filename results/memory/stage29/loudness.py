"""Stage 29c of docs/memory.md: does a centred read make block 0's read vary across tokens from the first steps?
(a diagnosis of stage 29b's guess; it decides nothing).

Trains track with stage 13's curriculum on seed 4 (stage 29b's pilot seed) for MODEL, and at steps 0, 100, 300,
600, 1,200, 2,400 and 4,800 reads 64 fixed inputs of 16 segments (the training length) and records, for block 0
(the block that reads the bank entering the segment) over every segment after the first: how alike the tokens'
reads E_mem are (the mean cosine between two tokens' E_mem in the same segment), the spread of its output gate
across tokens (std over tokens of g_out, averaged over channels), and of its candidate tanh(E_mem). With the loss
of the training steps and the accuracy on the 64 inputs at the same steps.

Usage: python results/memory/stage29/loudness.py MODEL OUT.json   (one thread; 4,800 steps, about 6 minutes)
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
FOLDER, SEED, AT = Path("results/memory/ladder-curriculum16"), 4, (0, 100, 300, 600, 1200, 2400, 4800)
name, out_path = sys.argv[1], Path(sys.argv[2])
plan = saved_plan(FOLDER, tasks=("track",))
base = plan.task("track")
config = variant_config(name, plan.backbone, vocab_size=base.vocab_size, segment_length=plan.segment_length)
ids, _ = base.batch(64, torch.Generator().manual_seed(4242))
calls: list[tuple[torch.Tensor, torch.Tensor]] = []
original = memory_module.gate_and_update


def recording(pre_out, pre_in, pre_forget, pre_candidate, *rest):
    calls.append((pre_out.detach(), pre_candidate.detach()))
    return original(pre_out, pre_in, pre_forget, pre_candidate, *rest)


def measure(model) -> dict:
    memory_module.gate_and_update = recording
    calls.clear()
    try:
        with torch.no_grad():
            model.eval()
            model(ids)  # whole segments (the answer token too: it changes no earlier read)
    finally:
        memory_module.gate_and_update = original
        model.train()
    blocks = len(model.config.memory_layer_ids)
    first = calls[blocks::blocks]  # block 0 of every segment after the first (the first segment reads M_0)
    e_mem = torch.cat([c for _, c in first], 1)  # (b, tokens, d)
    unit = torch.nn.functional.normalize(torch.stack([c for _, c in first]), dim=-1)  # (segments, b, n, d)
    cos = unit @ unit.transpose(-1, -2)
    n = cos.shape[-1]
    off = (cos.sum((-1, -2)) - n) / (n * (n - 1))  # mean over token pairs of a segment
    g_out = torch.sigmoid(torch.stack([o for o, _ in first]))  # (segments, b, n, d)
    candidate = torch.tanh(torch.stack([c for _, c in first]))
    return {
        "read_cosine_between_tokens": float(off.mean()),
        "output_gate_std_over_tokens": float(g_out.std(2).mean()),
        "candidate_std_over_tokens": float(candidate.std(2).mean()),
        "read_rms": float(e_mem.pow(2).mean().sqrt()),
    }


def main() -> None:
    import lm2.training.recall as recall_module

    records: dict[int, dict] = {}
    losses: list[float] = []
    built: list = []

    class Recorded(recall_module.LM2ForCausalLM):  # the model train_recall builds, kept to be measured
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    def on_step(step: int, loss: float) -> None:
        losses.append(loss)
        if step in AT:
            records[step] = measure(built[0]) | {"loss_last_100": sum(losses[-100:]) / len(losses[-100:])}
            print(name, step, records[step], flush=True)

    torch.manual_seed(SEED)  # the initial weights train_recall will draw, measured before any step
    fresh = recall_module.LM2ForCausalLM(config)
    records[0] = measure(fresh)
    print(name, 0, records[0], flush=True)
    saved, recall_module.LM2ForCausalLM = recall_module.LM2ForCausalLM, Recorded
    try:
        run = train_recall(config, base, plan.steps, plan.batch_size, plan.lr, SEED, on_step=on_step,
                           curriculum=plan.train_stages("track"))  # fmt: skip
    finally:
        recall_module.LM2ForCausalLM = saved
    accuracy = task_report(run.model.eval(), base, plan.samples, 1000 + SEED)["accuracy"]  # the ladder's 1x cell
    out_path.write_text(
        json.dumps({"model": name, "seed": SEED, "accuracy_1x": accuracy, "records": records}, indent=1)
    )
    print(name, "accuracy at 1x", accuracy, flush=True)


if __name__ == "__main__":
    main()
