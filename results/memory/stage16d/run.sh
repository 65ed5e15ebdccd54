#!/bin/bash
# Stage 16d (docs/memory.md): the demo's act 2 (R1) with twice the steps, seeds 0 and 1.
set -e
for seed in 0 1; do
  lm2 demo --acts 2 --models lm2,lm2-paper --babilong-steps 4800 --seed $seed --out runs/stage16d/seed$seed
done
