#!/usr/bin/env bash
# Stage 34 (docs/memory.md), part (4): track with the curriculum, 4,800 steps, seeds 0-3, the delta write with the rows
# addressed by keys of their own. WORKERS=1 runs one cell at a time (beside another job).
set -euo pipefail
lm2 bench memory --tasks track --models lm2-delta-slots-input --train-segments 16 \
    --curriculum 2,4,8,16 --steps 4800 --seeds 0,1,2,3 --samples 64 --workers ${WORKERS:-2} \
    --out results/memory/ladder-curriculum16
