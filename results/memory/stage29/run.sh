#!/usr/bin/env bash
# Stage 29 (docs/memory.md): where stage 11's default keeps track's answer; both models side by side, one thread each.
set -euo pipefail
mkdir -p results/memory/stage29
python results/memory/stage29/diagnose.py lm2-hard-floor-write0.1-warm results/memory/stage29/default.json \
    > results/memory/stage29/default.log 2>&1 &
python results/memory/stage29/diagnose.py lm2-hard-floor-write0.1-warm-center-gated results/memory/stage29/gated.json \
    > results/memory/stage29/gated.log 2>&1 &
wait
