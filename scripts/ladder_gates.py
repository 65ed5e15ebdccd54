"""Why an LM2 variant forgets at length (docs/memory.md "Stage 4"): train one memory-ladder recall cell's model
with the ladder's own code and settings, then record its gates on the cell's held-out inputs at each length
(`lm2.analysis.inspect.record_memory`) and set the retention they imply beside the accuracy.

In LM2 (DESIGN §2, eq. 6) token i of every segment rewrites bank row i: M[i] ← g_in ⊙ c + g_f ⊙ M[i]. What a
row held after the first segment (the fact: key and value are tokens 0 and 1, rows 0 and 1; capacity's four
pairs, rows 0..7) is multiplied by
the forget gate of every later token at that position (by (1 − g_in) g_f under the delta update), so its
surviving share after the input is the product of those factors — unless the model copies it forward by
reading and rewriting it. The script reports, per length and memory block: the mean forget and input gates
of the noise tokens (and the shares of them exactly shut / exactly keeping, for hard gates), the input gates
of the key and value tokens, the e-folding horizons −1 / mean(log g_f) and −1 / mean(log(1 − g_in)) in segments, and
the median over samples of that surviving share (gates are channel means, as `lm2 inspect` records them).

Usage (the stage-4 plan; about 5 minutes on one core; `--task capacity --curriculum 2,4,8,16 --steps 9600`
for stage 13's):
    python scripts/ladder_gates.py --model lm2-norm-keep --seed 0 --out results/memory/gates/lm2-norm-keep-seed0.json
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import torch

from lm2.analysis.inspect import record_memory
from lm2.bench.ladder import LadderPlan
from lm2.files import write_atomic
from lm2.model.variants import variant_config
from lm2.training.recall import task_scores, train_recall


def gate_statistics(trace, segment_length: int, update: str = "paper", facts: int = 2) -> list[dict[str, float]]:
    """Per recorded block: noise-token gate means, the forget gate's e-folding horizon, the input gate's
    (−1 / mean log(1 − g_in): how fast new writes replace a row under the delta update) and the fact rows'
    surviving share: the median over samples of the product of what each later token keeps of them, g_f
    under eq. 6 (`update="paper"`), (1 − g_in) g_f under the delta update."""
    stats = []
    for k, block in enumerate(trace.blocks):
        forget, write = trace.gate_forget[k], trace.gate_in[k]  # (b, L)
        keep = forget if update == "paper" else (1 - write) * forget  # what a token keeps of its row
        noise = slice(segment_length, forget.shape[1] - segment_length)  # after the fact, before the question
        log_forget = forget[:, noise].clamp_min(1e-30).log()
        log_unwritten = (1 - write[:, noise]).clamp_min(1e-30).log()
        later = keep[:, segment_length:].unflatten(1, (-1, segment_length))[..., :facts]  # (b, S-1, facts)
        survival = later.clamp_min(1e-30).log().sum(1).exp()  # (b, facts): the fact rows' surviving shares
        stats.append(
            {
                "block": block,
                "forget_mean": float(forget[:, noise].mean()),
                "input_mean": float(write[:, noise].mean()),
                # hard gates (stages 7-9): noise tokens whose input gate is exactly 0 in every channel (the
                # recorded channel mean is 0 only then), and forget gates exactly 1 (nothing of the row lost)
                "input_shut_share": float((write[:, noise] == 0).double().mean()),
                "forget_whole_share": float((forget[:, noise] == 1).double().mean()),
                "fact_input_mean": float(write[:, :facts].mean()),  # the keys' and the values' own writes
                "horizon_segments": float(-1 / log_forget.mean()),
                "write_horizon_segments": float(-1 / log_unwritten.mean()),
                "fact_share_median": float(survival.mean(1).median()),
            }
        )
    return stats


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="lm2-norm-keep")
    p.add_argument("--task", default="recall", choices=("recall", "capacity"))
    p.add_argument("--curriculum", default="", help="the ladder's --curriculum (stage maxima), e.g. 2,4,8,16")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-segments", type=int, default=16)
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--multiples", default="1,4,16,64")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    curriculum = tuple(int(n) for n in args.curriculum.split(",")) if args.curriculum else ()
    plan = LadderPlan(tasks=(args.task,), models=(args.model,), seeds=(args.seed,), curriculum=curriculum,
                      train_segments=args.train_segments, steps=args.steps, samples=args.samples)  # fmt: skip
    task = plan.task(args.task)
    config = variant_config(args.model, plan.backbone, vocab_size=task.vocab_size, segment_length=plan.segment_length)
    run = train_recall(config, task, plan.steps, plan.batch_size, plan.lr, args.seed,
                       curriculum=plan.train_stages(args.task))  # fmt: skip
    rows = []
    for multiple in (int(m) for m in args.multiples.split(",")):
        segments = multiple * plan.train_segments
        accuracy, norm = task_scores(run.model, task, plan.samples, 1000 + args.seed, segments)
        ids, _ = replace(task, segments=segments).batch(plan.samples, torch.Generator().manual_seed(1000 + args.seed))
        trace = record_memory(run.model, ids[:, : (segments - 1) * plan.segment_length])  # whole segments
        row = {"multiple": multiple, "segments": segments, "accuracy": accuracy, "norm": norm,
               "blocks": gate_statistics(trace, plan.segment_length, config.memory_update, 2 * task.pairs)}  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)
    result = {"model": args.model, "seed": args.seed, "plan": plan.to_json(), "final_loss": run.losses[-1],
              "diverged_at": run.diverged_at, "lengths": rows}  # fmt: skip
    write_atomic(args.out, json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
