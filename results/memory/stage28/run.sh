#!/bin/bash
# Stage 28 (docs/memory.md): the default whose first memory block reads the centred rows by the softmax and their mean
# through a gate of its own (memory_read_center="gated") on the demo's act 2 (R1), seeds 0 and 1 side by side, with
# lm2 retention at 1,024 tokens (act2_variant.sh).
set -e
M=lm2-hard-floor-write0.1-warm-center-gated
results/memory/act2_variant.sh stage28 $M 0 &
results/memory/act2_variant.sh stage28 $M 1
wait
