#!/bin/bash
# Stage 30 (docs/memory.md), part (3): stage 11's default with writes addressed by key (memory_write="addressed") on the
# demo's act 2 (R1), seeds 0 and 1 side by side, with lm2 retention at 1,024 tokens (act2_variant.sh).
set -e
M=lm2-addressed
results/memory/act2_variant.sh stage30 $M 0 &
results/memory/act2_variant.sh stage30 $M 1
wait
