#!/bin/bash
# Stage 18b (docs/memory.md): lm2 inspect of stage 16's R1 LM2 (seeds 0 and 1) on the first five qa1 test samples
# (input and question, generated prose, seed 0) at 128 and 1,024 tokens; each run's printed summary is kept.
set -e
out=results/memory/stage18b
lm2 data babilong --tasks qa1 --lengths 128,1024 --samples 5 --generate \
    --tokenizer runs/stage16/16x8-seed0/babilong/train/lm2/model --out runs/stage18b/data
for length in 128 1024; do
  for i in 0 1 2 3 4; do
    python -c "import json, sys; s = json.load(open('runs/stage18b/data/qa1/$length.json'))[$i]; \
sys.stdout.write(s['input'] + ' ' + s['question'])" > runs/stage18b/qa1-$length-$i.txt
    for seed in 0 1; do
      lm2 inspect --model runs/stage16/16x8-seed$seed/babilong/train/lm2/model --file runs/stage18b/qa1-$length-$i.txt \
          --out runs/stage18b/inspect/seed$seed-$length-$i --max-tokens 2048 --overwrite > $out/seed$seed-$length-$i.txt
    done
  done
done
