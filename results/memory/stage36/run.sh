#!/bin/bash
# Stage 36 (docs/memory.md): ARMT's joint write against the same tokens written in turn, on act 1's recall plan.
set -e
lm2 bench memory --tasks recall --models armt,armt-sequential --seeds 0,1,2,3 --train-segments 4 \
                 --multiples 1,4,16,64 --steps 600 --samples 128 --out results/memory/stage36
for seed in 0 1 2 3; do
  python results/memory/stage36/diagnose.py --model armt --seed $seed &
  python results/memory/stage36/diagnose.py --model armt-sequential --seed $seed
  wait
done
