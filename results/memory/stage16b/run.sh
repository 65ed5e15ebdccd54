#!/bin/bash
# Stage 16b (docs/memory.md): two LM2 variants on the demo's act 2 (recipe R1, the demo's defaults), seeds 0 and 1.
set -e
for seed in 0 1; do
  lm2 demo --acts 2 --models lm2-hard-floor-write0.3-warm,lm2-hard-floor-write0.1-warm-reopen --seed $seed \
      --out runs/stage16b/seed$seed
done
