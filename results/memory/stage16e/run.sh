#!/bin/bash
# Stage 16e (docs/memory.md): the demo's LM2 (R1) with its segments in stages, seeds 0 and 1. Needs the demo's
# act-2 configuration (runs/demo/babilong/train/lm2/config.yaml, written by `lm2 demo`; a copy with each seed's
# overrides applied is results/memory/stage16e/lm2-seed<S>/config.yaml).
set -e
for seed in 0 1; do
  lm2 train --config runs/demo/babilong/train/lm2/config.yaml --curriculum.segments 0,2,4,8 \
      --curriculum.stage_steps 400,400,400,0 --curriculum.max_facts 4,0,0,0 --run.seed $seed \
      --run.out runs/stage16e/lm2-seed$seed
  lm2 eval runs/stage16e/lm2-seed$seed/model --out results/memory/stage16e/lm2-seed$seed --tasks qa1 \
      --lengths 0k,128,256,512,1024 --samples 100 --seed $seed --generate --haystack prose --threads 1
done
