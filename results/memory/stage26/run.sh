#!/usr/bin/env bash
# Stage 26 (docs/memory.md): track with the curriculum, 4,800 steps, seeds 2 and 3, the split read and stage 11's default.
set -euo pipefail
lm2 bench memory --tasks track --models lm2,lm2-hard-floor-write0.1-warm --train-segments 16 \
    --curriculum 2,4,8,16 --steps 4800 --seeds 2,3 --samples 64 --out results/memory/ladder-curriculum16
