"""Stage 36 (docs/memory.md): before each write, how large is what the memory already reads for the key being
written (v̄ = Aᵀk / (zᵀk + ε)) against the value written (v)? Trains the cell as diagnose.py does (its
`train_cell`) and scores it at 64x on the cell's questions; for the writes after a block's first, per sample, the
largest ‖v̄‖/‖v‖ over the sample's writes, and whether that sample's A ends above ten times the median sample's.

    python results/memory/stage36/read_size.py --model armt-sequential --seed 0      # one thread
"""

import argparse
from dataclasses import replace

import torch
from diagnose import train_cell  # this folder's diagnose.py (the script's folder is on sys.path)

import lm2.model.armt as armt


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="armt-sequential")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, plan, base = train_cell(args.model, args.seed)
    ratios = []
    write = armt.associate

    def spy(matrix, normalizer, keys, values, beta, order="joint"):
        if order == "sequential":  # `associate` takes the tokens one call each, through this spy
            return write(matrix, normalizer, keys, values, beta, order)
        read = armt.recall(matrix, normalizer, keys).double()  # v̄ (b, k, d)
        ratio = (read.norm(dim=-1) / values.double().norm(dim=-1).clamp_min(1e-12)).amax(-1)  # (b,)
        first = normalizer.abs().sum(-1) == 0
        ratios.append(torch.where(first, 0.0, ratio))
        return write(matrix, normalizer, keys, values, beta)

    armt.associate = spy
    task = replace(base, segments=64 * plan.train_segments)
    ids, _ = task.batch(plan.samples, torch.Generator().manual_seed(1000 + args.seed))
    with torch.no_grad():
        out = model(ids[:, :-1], logits_to_keep=1)
    norm = out.memory.associative.double().flatten(2).norm(dim=-1).amax(1)
    finite = torch.isfinite(norm)
    large = ~finite | (norm > 10 * norm[finite].median())
    ratio = torch.stack(ratios).amax(0)  # (b,) the largest over the sample's writes
    for name, chosen in (("samples whose A ends over 10x the median", large), ("the others", ~large)):
        if chosen.any():
            r = ratio[chosen]
            print(f"{args.model} seed {args.seed}, 64x, {name} ({int(chosen.sum())}): largest |v̄|/|v| before a write, "
                  f"median {r.median():.3g}, min {r.min():.3g}, max {r.max():.3g}")  # fmt: skip


if __name__ == "__main__":
    main()
