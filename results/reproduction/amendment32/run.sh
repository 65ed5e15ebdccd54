#!/bin/bash
# docs/reproduction.md, amendment 32: qa2's backbone. Amendment 19's (VS) recipe with qa2 in place of qa1: full
# attention on the study's backbone and tokenizer, from scratch, at 0k, 14,000 steps of batch 32, lr 3e-3, stories of at
# most 5, 9 and 14 facts for 800 steps each (round2-qa2.yaml's story stages: a third, two thirds and all of qa2's median
# of 14 facts), then whole stories; then its score on 1,000 bAbI qa2 test questions at 0k.
# Usage: bash results/reproduction/amendment32/run.sh NAME   (NAME: VS0 or VS1, the seed last; one thread)
# A killed run resumes from its last checkpoint when the same command is run again.
set -eu
name=$1
case $name in
  VS[0-9]) seed=${name:2:1} ;;
  *) echo "unknown run $name (VS0, VS1)" >&2; exit 2 ;;
esac
R=results/reproduction
O=$R/amendment32
run=runs/reproduction/amendment32/$name
mkdir -p logs $O/run-$name
lm2 train --config configs/reproduction/diagnostic-qa1-0k.yaml --data.tokenizer $R/models/pretrained/lm2/model \
  --data.babi_tasks qa2 --curriculum.max_facts 5,9,14,0 --model.arch vanilla --model.vanilla_mode full --run.out $run \
  --run.steps 14000 --run.seed $seed --run.threads 1 --run.progress false > logs/a32-$name.log 2>&1
cp $run/config.yaml $run/metrics.jsonl $O/run-$name/
lm2 eval $run/model --out $O/eval-$name --tasks qa2 --lengths 0k --samples 1000 --seed 0 --babi ../shared/data/babi \
  --threads 1 >> logs/a32-$name.log 2>&1
