#!/bin/bash
# Stage 32 (docs/memory.md), part (3): stage 31's delta write with its bank clipped to [-1, 1] (memory_row_clip)
# (lm2-delta-clip-input) on the demo's act 2 (R1), seeds 0 and 1 side by side, with lm2 retention at 1,024 tokens
# (act2_variant.sh), then the rows' similarity over a long input (stage 30's collapse.py).
set -e
M=lm2-delta-clip-input
results/memory/act2_variant.sh stage32 $M 0 &
results/memory/act2_variant.sh stage32 $M 1
wait
python results/memory/stage30/collapse.py results/memory/stage32/collapse.json \
    runs/stage32/seed0/babilong/train/$M/model runs/stage32/seed1/babilong/train/$M/model \
    | tee results/memory/stage32/collapse.log
