#!/bin/bash
# Stage 16 (docs/memory.md): the demo's act 2 on three recipes, seeds 0 and 1, then the memory ablation of LM2
# seed 0 of each. Run from the repository root; runs/stage16/ holds the trainings, results/memory/stage16/ the
# copied evaluations (results.json, answers), configurations and training logs.
set -e
for seed in 0 1; do
  for recipe in "32 4" "16 8" "16 16"; do
    set -- $recipe; L=$1; N=$2
    lm2 demo --acts 2 --models lm2,lm2-paper --segment-length $L --train-segments $N --seed $seed \
        --out runs/stage16/${L}x${N}-seed$seed
  done
done
for recipe in "32 4" "16 8" "16 16"; do
  set -- $recipe; L=$1; N=$2; T=$((L * N))
  lm2 ablate runs/stage16/${L}x${N}-seed0/babilong/train/lm2/model --out results/memory/stage16/ablate/${L}x${N} \
      --variants memory-off --tasks qa1 --lengths $T,$((8 * T)) --babi generate --haystack prose --samples 100 \
      --threads 1 --reference runs/stage16/${L}x${N}-seed0/babilong/eval/lm2
done
