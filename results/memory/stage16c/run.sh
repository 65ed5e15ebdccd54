#!/bin/bash
# Stage 16c (docs/memory.md): LM2 on two more act-2 recipes, seeds 0 and 1 (each seed's two recipes in one
# process, the two seeds side by side).
set -e
for seed in 0 1; do
  lm2 demo --acts 2 --models lm2 --segment-length 32 --train-segments 8 --seed $seed --workers 1 \
      --out runs/stage16c/32x8-seed$seed
  lm2 demo --acts 2 --models lm2 --segment-length 8 --train-segments 16 --seed $seed --workers 1 \
      --out runs/stage16c/8x16-seed$seed
done
