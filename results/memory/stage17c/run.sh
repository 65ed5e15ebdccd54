#!/bin/bash
# Stage 17c (docs/memory.md): the default with gates that start half open and no forget floor, on the demo's act 2
# (R1), seeds 0 and 1 side by side; then where it loses the facts (lm2 retention, whole inputs and the last 128 tokens).
set -e
results/memory/act2_variant.sh stage17c lm2-hard-write0.1-warm-open 0 &
results/memory/act2_variant.sh stage17c lm2-hard-write0.1-warm-open 1
wait
