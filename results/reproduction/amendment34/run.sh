#!/bin/bash
# docs/reproduction.md, amendment 34: the study's LM2 on inputs of up to 128 segments. From a shipped model of
# amendment 23 (its run file and tokenizer), 500 more steps with lengths drawn from 1..128 segments of 64 tokens,
# otherwise amendment 23's recipe (batch 32, lr 1e-3 after 50 warm-up steps, a checkpoint every 125 steps); then qa1 on
# the bAbI test split (100 questions per cell) at 0k-16k and the persons test at 0k, 1k, 4k and 16k, amendment 33's tests.
# Usage: bash results/reproduction/amendment34/run.sh NAME   (NAME: Z + a run of amendment 23: ZLBL0, ZLBL1; one
#   thread). A killed run resumes from its last checkpoint when rerun; in a new checkout, from its copy in
#   results/parked/ (scripts/park_runs.py), which this command restores first and removes once the results are in.
set -eu
name=$1
case $name in
  ZLB[LQKRAV][0-9]) seed=${name:4:1} ;;
  *) echo "unknown run $name (Z + a run of amendment 23: ZLBL0, ZLBL1, ...)" >&2; exit 2 ;;
esac
R=results/reproduction
O=$R/amendment34
S=$R/amendment23/run-X${name:1}
run=runs/reproduction/amendment34/$name
parked=results/parked/reproduction/amendment34/$name
[ -f $S/config.yaml ] || { echo "no shipped run $S (amendment 23's X${name:1} is not in)" >&2; exit 2; }
mkdir -p logs $O/run-$name
if ! [ -d runs/reproduction/books/pretrain -a -d runs/reproduction/books/heldout ]; then
  python -c "from lm2.evaluation.study import StudyPlan, split_books; split_books(StudyPlan())"  # links to the dev books
fi
[ ! -d $parked ] || python scripts/park_runs.py unpark  # stopped in an earlier checkout
lm2 train --config $S/config.yaml --init-from $S/model --data.tokenizer $S/model --run.out $run --run.steps 500 \
  --optim.lr 1e-3 --optim.warmup_steps 50 --run.eval_every 125 --run.save_every 125 --curriculum.draw_segments true \
  --curriculum.segments 128 --curriculum.max_facts 0 --curriculum.stage_steps 0 --run.seed $seed \
  --run.threads 1 --run.progress false >> logs/a34-$name.log 2>&1
cp -r $run/config.yaml $run/metrics.jsonl $run/model $O/run-$name/
test="--tasks qa1 --samples 100 --seed 0 --babi ../shared/data/babi --haystack runs/reproduction/books/heldout --threads 1"
lm2 eval $run/model --out $O/eval-$name --lengths 0k,1k,2k,4k,8k,16k $test >> logs/a34-$name.log 2>&1
lm2 eval $run/model --out $O/persons-$name --lengths 0k,1k,4k,16k --every-person $test >> logs/a34-$name.log 2>&1
rm -rf $parked
