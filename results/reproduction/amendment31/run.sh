#!/bin/bash
# docs/reproduction.md, amendment 31: full attention's 32k and 64k cells on the CPU, for the shipped full-attention models
# at amendment 23's budget. qa1 on the bAbI test split (100 questions per cell, amendment 23's test options), prompts of
# up to 66,000 tokens, 4 prompts a batch (the answers do not depend on the batch: padded == alone is tested).
# Usage: bash results/reproduction/amendment31/run.sh [NAME ...]   (default: XLBV0; XLBV1 once amendment 30 ships it;
#   one thread). A killed run resumes its unfinished cells.
set -eu
R=results/reproduction
O=$R/amendment31
names=${*:-XLBV0}
test="--tasks qa1 --samples 100 --seed 0 --babi ../shared/data/babi --haystack runs/reproduction/books/heldout --threads 1"
mkdir -p logs $O
for name in $names; do
  model=$R/amendment23/run-$name/model
  [ "${name:3:1}" = V ] && [ -f $model/config.json ] || { echo "no shipped full-attention model $model (XLBV0, XLBV1)" >&2; exit 2; }
  lm2 eval $model --out $O/eval-$name --lengths 32k,64k --max-tokens 66000 --batch-size 4 $test >> logs/a31-$name.log 2>&1
done
