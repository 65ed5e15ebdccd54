#!/bin/bash
# Stage 17c (docs/memory.md): the default with gates that start half open and no forget floor, on the demo's act 2
# (R1), seeds 0 and 1 side by side; then where it loses the facts (lm2 retention, whole inputs and the last 128 tokens).
set -e
M=lm2-hard-write0.1-warm-open
one() {
  lm2 demo --acts 2 --models $M --seed $1 --out runs/stage17c/seed$1
  mkdir -p results/memory/stage17c/seed$1
  cp -r runs/stage17c/seed$1/babilong/eval/$M results/memory/stage17c/seed$1/
  cp runs/stage17c/seed$1/babilong/train/$M/config.yaml runs/stage17c/seed$1/babilong/train/$M/metrics.jsonl \
      results/memory/stage17c/seed$1/$M/
  for keep in "" 128; do
    lm2 retention runs/stage17c/seed$1/babilong/train/$M/model --out results/memory/stage17c/retention${keep:+-keep$keep}/seed$1 \
        --task qa1 --length 1024 --samples 300 --seed $1 --babi generate --haystack prose --bins 128,256,512 \
        --threads 1 ${keep:+--keep-last $keep}
  done
}
one 0 &
one 1
wait
