#!/bin/bash
# docs/reproduction.md, amendment 17: the write price switched on only for amendment 10's 500 steps on 1..64 segments,
# once the model already reads its memory at 1..16 segments (a price that waits for the segments, amendment 7).
# Usage: bash results/reproduction/amendment17/run.sh <run>...; each training resumes from its last checkpoint when rerun.
#   LW0, LW1     amendment 14's (GD<s>) (delta write, dot address) + the 500 steps with the price λ = 0.1 from the
#                first batch, then evaluated at 0k-64k
#   LWK0, LWK1   amendment 16's (GK<s>) (delta write, cosine address) + the same
#   addr         amendment 15c's addresses.py on the four
#   gates        17b: edge.py's measure of how near (LD0), (LD1)'s input gates sit to their shut edge
#   facts        17b, added after its results: the same measure on the statements of 100 qa1 test stories
#   context      17b, added after `facts`: the same measure inside the evaluation's 100 qa1 inputs at 16k, facts and
#                books apart
#   E0, E1       17b: (LD<s>) with every input gate's bias lowered by 0.25, 0.5 and 1.0 (edge.py shift), each
#                evaluated at 0k-64k (nothing trained)
# Each training's run files and model are copied into run-<run>/ here when it ends (the models shipped).
set -u
A=runs/reproduction/amendment17
O=results/reproduction/amendment17
books="--data.haystack runs/reproduction/books/pretrain"
price="--model.write_penalty 0.1 --model.write_penalty_warmup 0"
# amendment 10's 500 steps, unchanged
long="--config configs/reproduction/round2-qa1.yaml $books --run.steps 500 --optim.lr 1e-3 --optim.warmup_steps 50 --run.eval_every 250 --run.save_every 250 --curriculum.draw_segments true --curriculum.segments 32,64 --curriculum.max_facts 0,0 --curriculum.stage_steps 250,0 --run.threads 1"
test="--tasks qa1 --samples 100 --seed 0 --babi ../shared/data/babi --haystack runs/reproduction/books/heldout --threads 1"
mkdir -p logs
ship() { mkdir -p $O/run-$1 && cp -r $A/$1/config.yaml $A/$1/metrics.jsonl $A/$1/model $O/run-$1/; }
# train <run> <seed> <model the 500 steps start from> <memory flags>: the 500 steps with the price, then the evaluation
train() {
  lm2 train $long --model.arch lm2 $4 $price --init-from $3 --data.tokenizer $3 --run.seed $2 --run.out $A/$1 \
    > logs/a17-$1.log 2>&1 && ship $1 \
    && lm2 eval $A/$1/model --out $O/eval-$1 --lengths 0k,1k,2k,4k,8k,16k,32k,64k $test > logs/a17-eval-$1.log 2>&1
}
delta="--model.memory_write delta --model.memory_output read --model.memory_candidate input"
run() {
  case $1 in
    LW0|LW1) s=${1#LW}
      train $1 $s results/reproduction/amendment14/run-GD$s/model "$delta" ;;
    LWK0|LWK1) s=${1#LWK}
      train $1 $s results/reproduction/amendment16/run-GK$s/model "$delta --model.memory_address cosine" ;;
    addr)
      python results/reproduction/amendment15/addresses.py $O/addresses.json $O/run-LW0/model $O/run-LW1/model \
        $O/run-LWK0/model $O/run-LWK1/model > $O/addresses.log 2>&1 ;;
    gates)
      python $O/edge.py measure $O/edge.json results/reproduction/amendment14/run-LD0/model \
        results/reproduction/amendment14/run-LD1/model > $O/edge.log 2>&1 ;;
    facts)
      python $O/edge.py facts $O/edge-facts.json results/reproduction/amendment14/run-LD0/model \
        results/reproduction/amendment14/run-LD1/model > $O/edge-facts.log 2>&1 ;;
    context)
      python $O/edge.py context $O/edge-context.json results/reproduction/amendment14/run-LD0/model \
        results/reproduction/amendment14/run-LD1/model > $O/edge-context.log 2>&1 ;;
    E0|E1) s=${1#E}
      for d in 0.25 0.5 1.0; do
        python $O/edge.py shift results/reproduction/amendment14/run-LD$s/model $d $A/edge/LD$s-$d > /dev/null 2>&1 \
          && lm2 eval $A/edge/LD$s-$d --out $O/eval-edge-LD$s-$d --lengths 0k,1k,2k,4k,8k,16k,32k,64k $test \
          > logs/a17-eval-edge-LD$s-$d.log 2>&1 || return 1
      done ;;
    *) echo "run: LW0, LW1, LWK0, LWK1, addr, gates, facts, context, E0 or E1, not '$1'" >&2; return 2 ;;
  esac
}
for r in "$@"; do run $r || exit 1; done
