#!/bin/bash
# docs/reproduction.md, amendment 29: the rows at amendment 23's budget in the paper's layout. qa1 on the bAbI test split
# (100 questions per cell, amendment 23's test options) at 2k, 32k and 64k for the shipped models of amendment 23 (full
# attention at 2k only: the study runs it to 16,500 tokens on the CPU); their 0k-16k cells are amendment 23's.
# Usage: bash results/reproduction/amendment29/run.sh [NAME ...]   (default: XLBL0 XLBL1 XLBR0 XLBR1 XLBA0 XLBA1 XLBV0;
#   any run of amendment 23 with a shipped model, e.g. XLBQ0; one thread). A killed run resumes its unfinished cells.
set -eu
R=results/reproduction
O=$R/amendment29
names=${*:-XLBL0 XLBL1 XLBR0 XLBR1 XLBA0 XLBA1 XLBV0}
test="--tasks qa1 --samples 100 --seed 0 --babi ../shared/data/babi --haystack runs/reproduction/books/heldout --threads 1"
mkdir -p logs $O
for name in $names; do
  model=$R/amendment23/run-$name/model
  [ -f $model/config.json ] || { echo "no shipped model $model (a run of amendment 23: XLBL0, XLBR0, ...)" >&2; exit 2; }
  lengths=2k,32k,64k
  [ "${name:3:1}" != V ] || lengths=2k
  lm2 eval $model --out $O/eval-$name --lengths $lengths $test >> logs/a29-$name.log 2>&1
done
