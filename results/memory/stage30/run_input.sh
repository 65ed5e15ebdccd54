#!/bin/bash
# Stage 30b (docs/memory.md), part (3): the addressed write whose candidate is the token's own input
# (lm2-addressed-input) on the demo's act 2 (R1), seeds 0 and 1 side by side, with lm2 retention at 1,024 tokens
# (act2_variant.sh), then the rows' similarity over a long input (collapse.py).
set -e
M=lm2-addressed-input
results/memory/act2_variant.sh stage30b $M 0 &
results/memory/act2_variant.sh stage30b $M 1
wait
python results/memory/stage30/collapse.py results/memory/stage30b/collapse.json \
    runs/stage30b/seed0/babilong/train/$M/model runs/stage30b/seed1/babilong/train/$M/model
