#!/usr/bin/env bash
# Stage 28b (docs/memory.md): track with the curriculum, 9,600 steps, seeds 0 and 1, the gated mean.
set -euo pipefail
lm2 bench memory --tasks track --models lm2-hard-floor-write0.1-warm-center-gated --train-segments 16 \
    --curriculum 2,4,8,16 --steps 9600 --seeds 0,1 --samples 64 --out results/memory/ladder-curriculum16-steps9600
