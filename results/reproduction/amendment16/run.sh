#!/bin/bash
# docs/reproduction.md, amendment 16: amendment 14's LM2 (the delta write) addressed by content with a key strength
# (memory_address="cosine", docs/memory.md stage 33) at the study's scale.
# Usage: bash results/reproduction/amendment16/run.sh <run>...; each training resumes from its last checkpoint when rerun.
#   GK0, GK1   round 2's recipe from (P) with no price, the delta write and the cosine address, seed 0 / 1
#              (amendment 14's (GD<s>) with only memory_address changed)
#   LK0, LK1   (GK<s>) + amendment 10's 500 steps on inputs of 1..32 then 1..64 segments, then evaluated at 0k-64k
#   addr       amendment 15c's addresses.py on (LK0), (LK1)
# Each training's run files and model are copied into run-<run>/ here when it ends (the models shipped).
set -u
P=results/reproduction/amendment7/pretrain/model
A=runs/reproduction/amendment16
O=results/reproduction/amendment16
books="--data.haystack runs/reproduction/books/pretrain"
lm2="--model.arch lm2 --model.write_penalty 0 --model.memory_write delta --model.memory_output read --model.memory_candidate input --model.memory_address cosine"
# amendment 10's 500 steps, unchanged
long="--config configs/reproduction/round2-qa1.yaml $books --run.steps 500 --optim.lr 1e-3 --optim.warmup_steps 50 --run.eval_every 250 --run.save_every 250 --curriculum.draw_segments true --curriculum.segments 32,64 --curriculum.max_facts 0,0 --curriculum.stage_steps 250,0 --run.threads 1"
test="--tasks qa1 --samples 100 --seed 0 --babi ../shared/data/babi --haystack runs/reproduction/books/heldout --threads 1"
mkdir -p logs
ship() { mkdir -p $O/run-$1 && cp -r $A/$1/config.yaml $A/$1/metrics.jsonl $A/$1/model $O/run-$1/; }
run() {
  case $1 in
    GK0|GK1) s=${1#GK}
      lm2 train --config configs/reproduction/round2-qa1.yaml $lm2 --init-from $P $books --data.tokenizer $P \
        --run.seed $s --run.threads 1 --run.out $A/GK$s > logs/a16-GK$s.log 2>&1 && ship GK$s ;;
    LK0|LK1) s=${1#LK}
      lm2 train $long $lm2 --init-from $A/GK$s/model --data.tokenizer $A/GK$s/model --run.seed $s --run.out $A/LK$s \
        > logs/a16-LK$s.log 2>&1 && ship LK$s \
        && lm2 eval $A/LK$s/model --out $O/eval-LK$s --lengths 0k,1k,2k,4k,8k,16k,32k,64k $test \
        > logs/a16-eval-LK$s.log 2>&1 ;;
    addr)
      python results/reproduction/amendment15/addresses.py $O/addresses-LK.json $O/run-LK0/model $O/run-LK1/model \
        > $O/addresses-LK.log 2>&1 ;;
    *) echo "run: GK0, GK1, LK0, LK1 or addr, not '$1'" >&2; return 2 ;;
  esac
}
for r in "$@"; do run $r || exit 1; done
