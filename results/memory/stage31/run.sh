#!/bin/bash
# Stage 31 (docs/memory.md), part (3): the addressed write with the normalised delta rule and the token's own content
# (lm2-delta-input) on the demo's act 2 (R1), seeds 0 and 1 side by side, with lm2 retention at 1,024 tokens
# (act2_variant.sh), then the rows' similarity over a long input (stage 30's collapse.py).
set -e
M=lm2-delta-input
results/memory/act2_variant.sh stage31 $M 0 &
results/memory/act2_variant.sh stage31 $M 1
wait
python results/memory/stage30/collapse.py results/memory/stage31/collapse.json \
    runs/stage31/seed0/babilong/train/$M/model runs/stage31/seed1/babilong/train/$M/model \
    | tee results/memory/stage31/collapse.log
