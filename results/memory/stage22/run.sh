#!/bin/bash
# Stage 22 (docs/memory.md): the default whose first memory block centres its keys only
# (memory_read_center="keys") on the demo's act 2 (R1), seeds 0 and 1 side by side, with lm2 retention at 1,024
# tokens (act2_variant.sh).
set -e
M=lm2-hard-floor-write0.1-warm-center-keys
results/memory/act2_variant.sh stage22 $M 0 &
results/memory/act2_variant.sh stage22 $M 1
wait
