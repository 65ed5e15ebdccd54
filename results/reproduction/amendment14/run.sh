# docs/reproduction.md, amendment 14: LM2 with the delta write (memory_write="delta", docs/memory.md stage 31; the
# token's own input as candidate) at the study's scale.
# Usage: bash results/reproduction/amendment14/run.sh <run>...; each training resumes from its last checkpoint when rerun.
#   GD0, GD1   round 2's recipe from (P) with no price and the delta write, seed 0 / 1
#   LD0, LD1   (GD<s>) + amendment 10's 500 steps on inputs of 1..32 then 1..64 segments, then evaluated at 0k-16k
#   far R      (R: LD0, LD1) evaluated at 2k, 32k and 64k
# Each training's run files and model are copied into run-<run>/ here when it ends (the models shipped).
set -u
P=results/reproduction/amendment7/pretrain/model
A=runs/reproduction/amendment14
O=results/reproduction/amendment14
books="--data.haystack runs/reproduction/books/pretrain"
lm2="--model.arch lm2 --model.write_penalty 0 --model.memory_write delta --model.memory_output read --model.memory_candidate input"
# amendment 10's 500 steps, unchanged
long="--config configs/reproduction/round2-qa1.yaml $books --run.steps 500 --optim.lr 1e-3 --optim.warmup_steps 50 --run.eval_every 250 --run.save_every 250 --curriculum.draw_segments true --curriculum.segments 32,64 --curriculum.max_facts 0,0 --curriculum.stage_steps 250,0 --run.threads 1"
test="--tasks qa1 --samples 100 --seed 0 --babi ../shared/data/babi --haystack runs/reproduction/books/heldout --threads 1"
mkdir -p logs
ship() { mkdir -p $O/run-$1 && cp -r $A/$1/config.yaml $A/$1/metrics.jsonl $A/$1/model $O/run-$1/; }
run() {
  case $1 in
    GD0|GD1) s=${1#GD}
      lm2 train --config configs/reproduction/round2-qa1.yaml $lm2 --init-from $P $books --data.tokenizer $P \
        --run.seed $s --run.threads 1 --run.out $A/GD$s > logs/a14-GD$s.log 2>&1 && ship GD$s ;;
    LD0|LD1) s=${1#LD}
      lm2 train $long $lm2 --init-from $A/GD$s/model --data.tokenizer $A/GD$s/model --run.seed $s --run.out $A/LD$s \
        > logs/a14-LD$s.log 2>&1 && ship LD$s \
        && lm2 eval $A/LD$s/model --out $O/eval-LD$s --lengths 0k,1k,4k,8k,16k $test > logs/a14-eval-LD$s.log 2>&1 ;;
    *) echo "run: GD0, GD1, LD0, LD1 or far R..., not '$1'" >&2; return 2 ;;
  esac
}
case $1 in
  far) shift
    for r in "$@"; do
      lm2 eval $O/run-$r/model --out $O/eval-far-$r --lengths 2k,32k,64k $test > logs/a14-eval-far-$r.log 2>&1 || exit 1
    done ;;
  *) for r in "$@"; do run $r || exit 1; done ;;
esac
