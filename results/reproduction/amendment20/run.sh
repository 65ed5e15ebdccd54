#!/bin/bash
# docs/reproduction.md, amendment 20: the memories on a backbone that reads the person. Each memory architecture starts
# from amendment 19's (VS0) — full attention trained from scratch on qa1 at 0k, which answers the asked person — takes
# its backbone (`lm2 train --init-from` a vanilla model: the memory starts fresh), and learns the curriculum over
# segments: 500 steps at 0k, then 500 each with lengths drawn from 1..1, 1..2, 1..4, 1..8, 1..16 segments of 64 tokens.
# Then qa1 on the bAbI test split (100 questions per cell) at 0k-16k and the persons test at 0k, 1k and 4k.
# Usage: bash results/reproduction/amendment20/run.sh NAME   (NAME: BL0, BL1 (LM2, amendment 14's delta write),
#   BA0, BA1 (ARMT), BR0, BR1 (RMT), BV0 (full attention: amendment 22, from (VS0) itself); amendment 22b's BD0 (LM2,
#   the library's default) and BP0 (LM2, the paper's equations); amendment 22c's BV1 and BS0 (vanilla-segmented);
#   amendment 24's BK<seed> (BL's LM2 with the rows addressed by keys of their own, docs/memory.md stage 34);
#   amendment 27's BQ<seed> (BL's LM2 with the writes taken in order, memory_write="sequential", stage 35); one
#   thread each).
#   A killed run resumes from its last checkpoint when rerun.
set -eu
name=$1; seed=${name:2:1}
R=results/reproduction
O=$R/amendment20
B=$R/amendment19/run-VS0/model
run=runs/reproduction/amendment20/$name
case ${name:0:2} in
  BL) arch="--model.arch lm2 --model.write_penalty 0 --model.memory_write delta --model.memory_output read --model.memory_candidate input" ;;
  BK) arch="--model.arch lm2 --model.write_penalty 0 --model.memory_write delta --model.memory_output read --model.memory_candidate input --model.memory_address slots" ;;
  BQ) arch="--model.arch lm2 --model.write_penalty 0 --model.memory_write sequential --model.memory_output read --model.memory_candidate input" ;;
  BA) arch="--model.arch armt" ;;
  BR) arch="--model.arch rmt" ;;
  BV) arch="--model.arch vanilla" ;;
  BD) arch="--model.arch lm2" ;;
  BP) arch="--model.arch lm2 --model.memory_preset paper" ;;
  BS) arch="--model.arch vanilla --model.vanilla_mode segmented" ;;
  *) echo "unknown run $name (BL<seed>, BK<seed>, BQ<seed>, BA<seed>, BR<seed>, BV<seed>, BD<seed>, BP<seed>, BS<seed>)" >&2; exit 2 ;;
esac
mkdir -p logs $O/run-$name
lm2 train --config configs/reproduction/round2-qa1.yaml $arch --init-from $B --data.tokenizer $B \
  --data.haystack runs/reproduction/books/pretrain --curriculum.segments 0,1,2,4,8,16 --curriculum.max_facts 0,0,0,0,0,0 \
  --curriculum.stage_steps 500,500,500,500,500,0 --run.steps 3000 --optim.lr 1e-3 --optim.warmup_steps 100 \
  --run.seed $seed --run.threads 1 --run.out $run > logs/a20-$name.log 2>&1
cp -r $run/config.yaml $run/metrics.jsonl $run/model $O/run-$name/
test="--tasks qa1 --samples 100 --seed 0 --babi ../shared/data/babi --haystack runs/reproduction/books/heldout --threads 1"
lm2 eval $run/model --out $O/eval-$name --lengths 0k,1k,4k,8k,16k $test >> logs/a20-$name.log 2>&1
lm2 eval $run/model --out $O/persons-$name --lengths 0k,1k,4k --every-person $test >> logs/a20-$name.log 2>&1
