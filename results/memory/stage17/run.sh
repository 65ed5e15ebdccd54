#!/bin/bash
# Stage 17 (docs/memory.md): where the demo's LM2 loses the facts. qa1 at 1,024 tokens, 300 test questions, each
# model's evaluation seed; accuracy by the supporting fact's distance and the fact's trace in the memory. Run from
# the repository root after stage 16 (runs/stage16) and the demo (runs/demo); two models at a time, one thread each.
# The first pass reads whole inputs; the second, the check added after it, the same inputs from 128 tokens before
# the question only (into keep128/).
set -e
R1=runs/stage16/16x8-seed
DEMO=runs/demo/babilong/train
for pass in whole keep128; do
  prefix=$([ $pass = keep128 ] && echo keep128/)
  keep=$([ $pass = keep128 ] && echo "--keep-last 128")
  measure() {  # model folder, output name, seed
    lm2 retention "$1" --out results/memory/stage17/$prefix$2 --task qa1 --length 1024 --samples 300 --seed $3 \
        --babi generate --haystack prose --bins 128,256,512 --threads 1 $keep
  }
  measure ${R1}0/babilong/train/lm2/model lm2-seed0 0 &
  measure ${R1}1/babilong/train/lm2/model lm2-seed1 1; wait
  measure ${R1}0/babilong/train/lm2-paper/model lm2-paper-seed0 0 &
  measure ${R1}1/babilong/train/lm2-paper/model lm2-paper-seed1 1; wait
  measure $DEMO/rmt/model rmt-seed0 0 &
  measure $DEMO/armt/model armt-seed0 0; wait
  measure $DEMO/vanilla/model vanilla-seed0 0
done
