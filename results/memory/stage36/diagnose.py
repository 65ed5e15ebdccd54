"""Stage 36 (docs/memory.md): where an ARMT's associative matrix A grows, sample by sample.

Trains the recall cell of `lm2 demo`'s act 1 (`lm2 bench memory` on recall: 2-4 segments of 16 tokens, 600
steps of batch 32; the same function and seed as the ladder's cell, so the same model) and, at 1x, 4x, 16x and 64x
the training length on the cell's 128 held-out questions, records for every sample the Frobenius norm of its
larger block's A, whether it is answered right, and, for every write after a block's first, the spectral radius
of the map the write applies to what A returns for the segment's keys: K A' = (I - G diag(beta / s)) K A + ...,
G = K K^T, s = z^T k + eps (radius > 1: that write amplifies what A held for those keys; with
`armt_write="sequential"` each token's write is one such map, k = 1).

    python results/memory/stage36/diagnose.py --model armt --seed 0      # one thread
"""

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

import lm2.model.armt as armt
from lm2.bench.ladder import LadderPlan
from lm2.model.variants import variant_config
from lm2.training.recall import train_recall


def train_cell(name: str, seed: int):
    """(model, plan, task) of act 1's recall cell of model variant `name` and `seed`, trained as the ladder does."""
    plan = LadderPlan(tasks=("recall",), models=(name,), seeds=(seed,), train_segments=4,
                      multiples=(1, 4, 16, 64), steps=600, samples=128)  # fmt: skip
    base = plan.task("recall")
    config = variant_config(name, plan.backbone, vocab_size=base.vocab_size, segment_length=plan.segment_length)
    model = train_recall(config, base, plan.steps, plan.batch_size, plan.lr, seed,
                         curriculum=plan.train_stages("recall")).model  # fmt: skip
    return model, plan, base


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="armt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.time()
    model, plan, base = train_cell(args.model, args.seed)
    trained = time.time() - start
    radii = []
    write = armt.associate

    def spy(matrix, normalizer, keys, values, beta, order="joint"):
        if order == "sequential":  # `associate` takes the tokens one call each, through this spy
            return write(matrix, normalizer, keys, values, beta, order)
        k = keys.double()
        s = k @ normalizer.double()[..., None] + armt.EPS  # (b, k, 1)
        step_map = torch.eye(k.shape[1], dtype=k.dtype) - (k @ k.transpose(1, 2)) @ torch.diag_embed(
            (beta.double() / s).squeeze(-1)
        )
        radius = torch.linalg.eigvals(step_map).abs().amax(-1)
        first = normalizer.abs().sum(-1) == 0  # a block's first write: A holds nothing to amplify
        radii.append(torch.where(first, 0.0, radius))
        return write(matrix, normalizer, keys, values, beta)

    armt.associate = spy
    lengths = {}
    for multiple in plan.multiples:
        task = replace(base, segments=multiple * plan.train_segments)
        ids, _ = task.batch(plan.samples, torch.Generator().manual_seed(1000 + args.seed))
        radii.clear()
        with torch.no_grad():
            out = model(ids[:, :-1], logits_to_keep=1)
        right = out.logits[:, -1].argmax(-1) == ids[:, -1]
        matrix = out.memory.associative.double()
        norm = matrix.flatten(2).norm(dim=-1).amax(1)  # (b,) the larger block's
        finite = torch.isfinite(out.memory.associative).flatten(1).all(1)
        median = norm[finite].median()
        large = ~finite | (norm > 10 * median)
        radius = torch.stack(radii)  # (writes, b)
        lengths[str(multiple)] = {
            "segments": multiple * plan.train_segments,
            "accuracy": right.double().mean().item(),
            "mean_norm_float32": float(out.memory.associative.float().flatten(2).norm(dim=-1).mean()),
            "median_norm": median.item(),
            "max_finite_norm": norm[finite].max().item(),
            "samples_not_finite": int((~finite).sum()),
            "samples_over_10x_median": int(large.sum()),
            "accuracy_over_10x_median": right[large].double().mean().item() if large.any() else None,
            "accuracy_others": right[~large].double().mean().item(),
            "writes_radius_over_1": int((radius > 1).sum()),
            "writes": radius.numel(),
            "samples_with_a_write_radius_over_1": int((radius > 1).any(0).sum()),
        }
        print(json.dumps({"multiple": multiple, **lengths[str(multiple)]}), flush=True)
    result = {"model": args.model, "seed": args.seed, "train_seconds": round(trained, 1),
              "torch": torch.__version__, "lengths": lengths}  # fmt: skip
    path = args.out / f"diagnosis-{args.model}-s{args.seed}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
