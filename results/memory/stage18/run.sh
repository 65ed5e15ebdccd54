#!/bin/bash
# Stage 18 (docs/memory.md): the demo's LM2 with memory_output="read" (g_out * E_mem instead of g_out * M_t[i]),
# seeds 0 and 1 side by side, one thread each; then where it loses the facts (lm2 retention, as stage 17).
set -e
one() {
  out=runs/stage18/lm2-read-seed$1
  res=results/memory/stage18/lm2-read-seed$1
  lm2 train --config runs/demo/babilong/train/lm2/config.yaml --model.memory_output read --run.seed $1 --run.out $out
  lm2 eval $out/model --out $res --tasks qa1 --lengths 0k,128,256,512,1024 --samples 100 --seed $1 --babi generate \
      --haystack prose --threads 1
  cp $out/config.yaml $out/metrics.jsonl $res/
  for keep in "" 128; do
    lm2 retention $out/model --out results/memory/stage18/retention${keep:+-keep$keep}/seed$1 --task qa1 --length 1024 \
        --samples 300 --seed $1 --babi generate --haystack prose --bins 128,256,512 --threads 1 ${keep:+--keep-last $keep}
  done
}
one 0 &
one 1
wait
