#!/bin/bash
# Stage 19 (docs/memory.md): the default with a centred read of the entering bank on the demo's act 2 (R1), seeds
# 0 and 1 side by side; then where it loses the facts (lm2 retention, as stage 17) and its bank (lm2 inspect on stage
# 18b's inputs).
set -e
M=lm2-hard-floor-write0.1-warm-center
one() {
  results/memory/act2_variant.sh stage19 $M $1
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
