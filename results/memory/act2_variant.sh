#!/bin/bash
# Shared by stages 17c, 19, 21, 22, 23 and 28 (docs/memory.md): one LM2 variant on the demo's act 2 (R1) for one seed, its
# evaluation and training log copied into results/memory/<stage>/seed<S>/, then `lm2 retention` at 1,024 tokens
# (whole inputs and the last 128 tokens). Usage, from the repository root: act2_variant.sh STAGE MODEL SEED
set -e
stage=$1; M=$2; seed=$3
lm2 demo --acts 2 --models $M --seed $seed --out runs/$stage/seed$seed
mkdir -p results/memory/$stage/seed$seed
cp -r runs/$stage/seed$seed/babilong/eval/$M results/memory/$stage/seed$seed/
cp runs/$stage/seed$seed/babilong/train/$M/config.yaml runs/$stage/seed$seed/babilong/train/$M/metrics.jsonl \
    results/memory/$stage/seed$seed/$M/
for keep in "" 128; do
  lm2 retention runs/$stage/seed$seed/babilong/train/$M/model --out results/memory/$stage/retention${keep:+-keep$keep}/seed$seed \
      --task qa1 --length 1024 --samples 300 --seed $seed --babi generate --haystack prose --bins 128,256,512 \
      --threads 1 ${keep:+--keep-last $keep}
done
