#!/bin/bash
# Stage 17b (docs/memory.md): the demo's LM2 trained on 1..32 segments of 16 tokens, seeds 0 and 1 side by side,
# one thread each. Run from the repository root after the demo (runs/demo holds the configuration it starts from).
set -e
one() {
  lm2 train --config runs/demo/babilong/train/lm2/config.yaml --curriculum.segments 0,32 --run.seed $1 \
      --run.out runs/stage17b/lm2-seed$1
  lm2 eval runs/stage17b/lm2-seed$1/model --out results/memory/stage17b/lm2-seed$1 --tasks qa1 \
      --lengths 0k,128,256,512,1024,2048 --samples 100 --seed $1 --babi generate --haystack prose --threads 1
  cp runs/stage17b/lm2-seed$1/config.yaml runs/stage17b/lm2-seed$1/metrics.jsonl results/memory/stage17b/lm2-seed$1/
}
one 0 &
one 1
wait
# The check: where R6 loses the facts at 2,048 tokens (4x its training input), whole inputs and the last 128 tokens.
for seed in 0 1; do
  for keep in "" 128; do
    lm2 retention runs/stage17b/lm2-seed$seed/model --out results/memory/stage17b/retention/seed$seed${keep:+-keep$keep} \
        --task qa1 --length 2048 --samples 300 --seed $seed --babi generate --haystack prose --bins 128,256,512,1024 \
        --threads 1 ${keep:+--keep-last $keep} &
  done
  wait
done
