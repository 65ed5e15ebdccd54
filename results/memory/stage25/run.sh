#!/usr/bin/env bash
# Stage 25 (docs/memory.md): the default (split read since stage 24) on track with stage 13's curriculum.
set -euo pipefail
lm2 bench memory --tasks track --models lm2 --train-segments 16 --curriculum 2,4,8,16 \
    --steps 4800 --seeds 0,1 --samples 64 --out results/memory/ladder-curriculum16
lm2 bench memory --tasks track --models lm2 --train-segments 16 --curriculum 2,4,8,16 \
    --steps 9600 --seeds 0,1 --samples 64 --out results/memory/ladder-curriculum16-steps9600
