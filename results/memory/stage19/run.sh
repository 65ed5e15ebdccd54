#!/bin/bash
# Stage 19 (docs/memory.md): the default with a centred read of the entering bank on the demo's act 2 (R1), seeds
# 0 and 1 side by side; then where it loses the facts (lm2 retention, as stage 17) and its bank (lm2 inspect, as 18b).
set -e
M=lm2-hard-floor-write0.1-warm-center
one() {
  lm2 demo --acts 2 --models $M --seed $1 --out runs/stage19/seed$1
  mkdir -p results/memory/stage19/seed$1
  cp -r runs/stage19/seed$1/babilong/eval/$M results/memory/stage19/seed$1/
  cp runs/stage19/seed$1/babilong/train/$M/config.yaml runs/stage19/seed$1/babilong/train/$M/metrics.jsonl \
      results/memory/stage19/seed$1/$M/
  for keep in "" 128; do
    lm2 retention runs/stage19/seed$1/babilong/train/$M/model --out results/memory/stage19/retention${keep:+-keep$keep}/seed$1 \
        --task qa1 --length 1024 --samples 300 --seed $1 --babi generate --haystack prose --bins 128,256,512 \
        --threads 1 ${keep:+--keep-last $keep}
  done
  for length in 128 1024; do
    for i in 0 1 2 3 4; do  # the inputs of stage 18b (results/memory/stage18b/run.sh)
      lm2 inspect --model runs/stage19/seed$1/babilong/train/$M/model --file runs/stage18b/qa1-$length-$i.txt \
          --out runs/stage19/inspect/seed$1-$length-$i --max-tokens 2048 --overwrite \
          > results/memory/stage19/inspect-seed$1-$length-$i.txt
    done
  done
}
one 0 &
one 1
wait
