#!/bin/bash
# Stage 17 (docs/memory.md): where the demo's LM2 loses the facts. qa1 at 1,024 tokens, 300 test questions, each
# model's evaluation seed; accuracy by the supporting fact's distance and the fact's trace in the memory. Run from
# the repository root after stage 16 (runs/stage16) and the demo (runs/demo); two models at a time, one thread each.
set -e
measure() {  # model folder, output name, seed
  lm2 retention "$1" --out results/memory/stage17/$2 --task qa1 --length 1024 --samples 300 --seed $3 \
      --babi generate --haystack prose --bins 128,256,512 --threads 1
}
measure runs/stage16/16x8-seed0/babilong/train/lm2/model lm2-seed0 0 &
measure runs/stage16/16x8-seed1/babilong/train/lm2/model lm2-seed1 1; wait
measure runs/stage16/16x8-seed0/babilong/train/lm2-paper/model lm2-paper-seed0 0 &
measure runs/stage16/16x8-seed1/babilong/train/lm2-paper/model lm2-paper-seed1 1; wait
measure runs/demo/babilong/train/rmt/model rmt-seed0 0 &
measure runs/demo/babilong/train/armt/model armt-seed0 0; wait
measure runs/demo/babilong/train/vanilla/model vanilla-seed0 0
# The check added after the first measurements: the same inputs read from 128 tokens before the question only.
keep128() {  # model folder, output name, seed
  lm2 retention "$1" --out results/memory/stage17/keep128/$2 --task qa1 --length 1024 --samples 300 --seed $3 \
      --babi generate --haystack prose --bins 128,256,512 --keep-last 128 --threads 1
}
keep128 runs/stage16/16x8-seed0/babilong/train/lm2/model lm2-seed0 0 &
keep128 runs/stage16/16x8-seed1/babilong/train/lm2/model lm2-seed1 1; wait
keep128 runs/stage16/16x8-seed0/babilong/train/lm2-paper/model lm2-paper-seed0 0 &
keep128 runs/stage16/16x8-seed1/babilong/train/lm2-paper/model lm2-paper-seed1 1; wait
keep128 runs/demo/babilong/train/rmt/model rmt-seed0 0 &
keep128 runs/demo/babilong/train/armt/model armt-seed0 0; wait
keep128 runs/demo/babilong/train/vanilla/model vanilla-seed0 0
