#!/bin/bash
# Stage 34 (docs/memory.md), part (3): stage 31's delta write with the rows addressed by keys of their own
# (memory_address="slots", lm2-delta-slots-input) on the demo's act 2 (R1), seeds 0 and 1 one after the other, with
# lm2 retention at 1,024 tokens (act2_variant.sh); the persons test (lm2 eval --every-person) at act 2's lengths;
# then the rows' similarity (stage 30's collapse.py), where the writes go (amendment 15c's addresses.py) and the far
# facts beside stage 31's (stage 32's far_facts.py). Then stage 31's lm2-delta-input retrained by the same command on
# this machine, for the persons test beside (runs/stage31 is not kept between machines).
# Usage: results/memory/stage34/run.sh [MODEL...]   (default: lm2-delta-slots-input lm2-delta-input)
set -e
models=${*:-lm2-delta-slots-input lm2-delta-input}
persons="--tasks qa1 --lengths 0k,128,256,512,1024 --samples 100 --seed 0 --babi generate --haystack prose --threads 1"
for M in $models; do
  stage=$([ $M = lm2-delta-input ] && echo stage31-rerun || echo stage34)
  for seed in 0 1; do
    model=runs/$stage/seed$seed/babilong/train/$M/model
    [ -f results/memory/stage34/persons/$M-seed$seed/results.json ] && continue
    if [ $stage = stage34 ]; then
      results/memory/act2_variant.sh $stage $M $seed
    else  # only the model, for the persons test: stage 31's act 2 and retention are in results/memory/stage31
      lm2 demo --acts 2 --models $M --seed $seed --out runs/$stage/seed$seed
      mkdir -p results/memory/stage34/$stage-seed$seed
      cp -r runs/$stage/seed$seed/babilong/eval/$M results/memory/stage34/$stage-seed$seed/
      cp runs/$stage/seed$seed/babilong/train/$M/config.yaml runs/$stage/seed$seed/babilong/train/$M/metrics.jsonl \
          results/memory/stage34/$stage-seed$seed/$M/
    fi
    lm2 eval $model --out results/memory/stage34/persons/$M-seed$seed --every-person $persons
  done
  if [ $stage = stage34 ]; then
    python results/memory/stage30/collapse.py results/memory/stage34/collapse.json \
        runs/stage34/seed0/babilong/train/$M/model runs/stage34/seed1/babilong/train/$M/model \
        | tee results/memory/stage34/collapse.log
    python results/reproduction/amendment15/addresses.py results/memory/stage34/addresses.json \
        runs/stage34/seed0/babilong/train/$M/model runs/stage34/seed1/babilong/train/$M/model \
        > results/memory/stage34/addresses.log 2>&1
    python results/memory/stage32/far_facts.py stage31 stage34 | tee results/memory/stage34/far_facts.log
  fi
done
