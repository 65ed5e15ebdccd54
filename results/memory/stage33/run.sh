#!/bin/bash
# Stage 33 (docs/memory.md), part (3): stage 31's delta write addressed by content with a key strength (memory_address="cosine")
# (lm2-delta-cosine-input) on the demo's act 2 (R1), seeds 0 and 1 side by side, with lm2 retention at 1,024 tokens
# (act2_variant.sh), then the rows' similarity over a long input (stage 30's collapse.py).
set -e
M=lm2-delta-cosine-input
results/memory/act2_variant.sh stage33 $M 0 &
results/memory/act2_variant.sh stage33 $M 1
wait
python results/memory/stage30/collapse.py results/memory/stage33/collapse.json \
    runs/stage33/seed0/babilong/train/$M/model runs/stage33/seed1/babilong/train/$M/model \
    | tee results/memory/stage33/collapse.log
# where the writes go (docs/reproduction.md amendment 15c's script), beside stage 31's two models
python results/reproduction/amendment15/addresses.py results/memory/stage33/addresses.json \
    runs/stage33/seed0/babilong/train/$M/model runs/stage33/seed1/babilong/train/$M/model \
    runs/stage31/seed0/babilong/train/lm2-delta-input/model runs/stage31/seed1/babilong/train/lm2-delta-input/model \
    > results/memory/stage33/addresses.log 2>&1
