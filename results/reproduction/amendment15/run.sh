#!/bin/bash
# docs/reproduction.md, amendment 15: amendment 14's LM2 (the delta write) with its bank clipped to [-1, 1] after every
# segment's writes (memory_row_clip, docs/memory.md stage 32).
# Usage: bash results/reproduction/amendment15/run.sh <run>...; each training resumes from its last checkpoint when rerun.
#   LC0, LC1   amendment 14's (GD<s>) + amendment 10's 500 steps on inputs of 1..32 then 1..64 segments, with the clip
#              (amendment 14's (LD<s>) with only memory_row_clip changed), then evaluated at 0k-64k
#   TC0, TC1   amendment 14's (LD<s>) as trained, with the clip switched on for evaluation only, at 16k, 32k and 64k
#   bank       bank_range.py on LC0, LC1 and TC0, TC1 (the bank's norm and range on held-out books to 64k)
# Each training's run files and model are copied into run-<run>/ here when it ends (the models shipped).
set -u
A=runs/reproduction/amendment15
G=runs/reproduction/amendment14
O=results/reproduction/amendment15
books="--data.haystack runs/reproduction/books/pretrain"
lm2="--model.arch lm2 --model.write_penalty 0 --model.memory_write delta --model.memory_output read --model.memory_candidate input --model.memory_row_clip true"
# amendment 10's 500 steps, unchanged
long="--config configs/reproduction/round2-qa1.yaml $books --run.steps 500 --optim.lr 1e-3 --optim.warmup_steps 50 --run.eval_every 250 --run.save_every 250 --curriculum.draw_segments true --curriculum.segments 32,64 --curriculum.max_facts 0,0 --curriculum.stage_steps 250,0 --run.threads 1"
test="--tasks qa1 --samples 100 --seed 0 --babi ../shared/data/babi --haystack runs/reproduction/books/heldout --threads 1"
mkdir -p logs
ship() { mkdir -p $O/run-$1 && cp -r $A/$1/config.yaml $A/$1/metrics.jsonl $A/$1/model $O/run-$1/; }
run() {
  case $1 in
    LC0|LC1) s=${1#LC}
      lm2 train $long $lm2 --init-from $G/GD$s/model --data.tokenizer $G/GD$s/model --run.seed $s --run.out $A/LC$s \
        > logs/a15-LC$s.log 2>&1 && ship LC$s \
        && lm2 eval $A/LC$s/model --out $O/eval-LC$s --lengths 0k,1k,2k,4k,8k,16k,32k,64k $test > logs/a15-eval-LC$s.log 2>&1 ;;
    TC0|TC1) s=${1#TC}
      mkdir -p $A/TC$s && rm -rf $A/TC$s/model && cp -r results/reproduction/amendment14/run-LD$s/model $A/TC$s/model \
        && python -c "import json, sys; p = sys.argv[1]; c = json.load(open(p)); c['memory_row_clip'] = True; json.dump(c, open(p, 'w'), indent=2)" $A/TC$s/model/config.json \
        && lm2 eval $A/TC$s/model --out $O/eval-TC$s --lengths 16k,32k,64k $test > logs/a15-eval-TC$s.log 2>&1 ;;
    bank)
      python $O/bank_range.py $O/bank_range.json $O/run-LC0/model $O/run-LC1/model $A/TC0/model $A/TC1/model \
        > $O/bank_range.log 2>&1 ;;
    *) echo "run: LC0, LC1, TC0, TC1 or bank, not '$1'" >&2; return 2 ;;
  esac
}
for r in "$@"; do run $r || exit 1; done
