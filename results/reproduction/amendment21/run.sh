#!/bin/bash
# docs/reproduction.md, amendment 21: amendment 10's 500 steps on longer inputs (lengths drawn from 1..32 segments for
# 250 steps, then from 1..64; batch 32, lr 1e-3 after 50 warm-up steps) for amendment 20's models, then qa1 on the
# bAbI test split (100 questions per cell) at 0k-16k and the persons test at 0k, 1k, 4k and 16k.
# Usage: bash results/reproduction/amendment21/run.sh NAME   (NAME: LBL0, LBL1, LBA0, LBR0: amendment 20's BL0, BL1,
#   BA0, BR0 + the 500 steps; amendment 22's LBA1, LBR1 from BA1, BR1; amendment 24's LBK<seed> from BK<seed>;
#   amendment 26's LBV0 (full attention) from BV0, amendment 30's LBV1 from BV1; amendment 28's LBQ<seed> (the
#   ordered write) from BQ<seed>; one thread each). A killed run resumes from its last checkpoint when rerun.
set -eu
name=$1; start=${name:1}; seed=${name:3:1}
R=results/reproduction
O=$R/amendment21
S=$R/amendment20/run-$start
run=runs/reproduction/amendment21/$name
[ -f $S/config.yaml ] || { echo "unknown run $name (L + a run of amendment 20: LBL0, LBL1, LBA0, LBA1, LBR0, LBR1, LBV0, LBQ0, ...)" >&2; exit 2; }
mkdir -p logs $O/run-$name
lm2 train --config $S/config.yaml --init-from $S/model --data.tokenizer $S/model --run.out $run --run.steps 500 \
  --optim.lr 1e-3 --optim.warmup_steps 50 --run.eval_every 250 --run.save_every 250 --curriculum.draw_segments true \
  --curriculum.segments 32,64 --curriculum.max_facts 0,0 --curriculum.stage_steps 250,0 --run.seed $seed \
  --run.threads 1 > logs/a21-$name.log 2>&1
cp -r $run/config.yaml $run/metrics.jsonl $run/model $O/run-$name/
test="--tasks qa1 --samples 100 --seed 0 --babi ../shared/data/babi --haystack runs/reproduction/books/heldout --threads 1"
lm2 eval $run/model --out $O/eval-$name --lengths 0k,1k,4k,8k,16k $test >> logs/a21-$name.log 2>&1
lm2 eval $run/model --out $O/persons-$name --lengths 0k,1k,4k,16k --every-person $test >> logs/a21-$name.log 2>&1
