#!/bin/bash
# docs/reproduction.md, amendment 23: three times amendment 21's steps on long inputs. Each run starts from one of
# amendment 21's models (its run file and tokenizer) and takes 1,000 more steps with lengths drawn from 1..64 segments of
# 64 tokens (batch 32, lr 1e-3 after 50 warm-up steps, as amendment 21), then qa1 on the bAbI test split (100 questions
# per cell) at 0k-16k and the persons test at 0k, 1k, 4k and 16k.
# Usage: bash results/reproduction/amendment23/run.sh NAME   (NAME: X + a run of amendment 21: XLBL0 (LM2, the delta
#   write), XLBR0 (RMT), XLBA0 (ARMT), XLBV0 (full attention, amendment 26), XLBK0 (amendment 26b), XLBQ0 (the ordered
#   write, amendment 28); <seed> 1 likewise; one thread each). A killed run resumes from its last checkpoint when rerun.
set -eu
name=$1; start=${name:1}; seed=${name:4:1}
R=results/reproduction
O=$R/amendment23
S=$R/amendment21/run-$start
run=runs/reproduction/amendment23/$name
[ -f $S/config.yaml ] || { echo "unknown run $name (X + a run of amendment 21: XLBL0, XLBR0, ...)" >&2; exit 2; }
mkdir -p logs $O/run-$name
lm2 train --config $S/config.yaml --init-from $S/model --data.tokenizer $S/model --run.out $run --run.steps 1000 \
  --optim.lr 1e-3 --optim.warmup_steps 50 --run.eval_every 250 --run.save_every 250 --curriculum.draw_segments true \
  --curriculum.segments 64 --curriculum.max_facts 0 --curriculum.stage_steps 0 --run.seed $seed \
  --run.threads 1 > logs/a23-$name.log 2>&1
cp -r $run/config.yaml $run/metrics.jsonl $run/model $O/run-$name/
test="--tasks qa1 --samples 100 --seed 0 --babi ../shared/data/babi --haystack runs/reproduction/books/heldout --threads 1"
lm2 eval $run/model --out $O/eval-$name --lengths 0k,1k,4k,8k,16k $test >> logs/a23-$name.log 2>&1
lm2 eval $run/model --out $O/persons-$name --lengths 0k,1k,4k,16k --every-person $test >> logs/a23-$name.log 2>&1
