# docs/reproduction.md, amendment 11: why the study's LM2 fades past its training length, and LM2 with the gated read.
# Usage: bash results/reproduction/amendment11/run.sh <run>...; each training resumes from its last checkpoint when rerun.
#   GG0, GG1   round 2's recipe from (P) with no price and the gated read (memory_read_center="gated"), seed 0 / 1
#   LG0, LG1   (GG<s>) + amendment 10's 500 steps on inputs of 1..32 then 1..64 segments, then evaluated at 0k-16k
#   far R      (R: LG0, LG1) evaluated at 2k, 32k and 64k
#   ret R      (R: L, L1, L-rmt, L-armt, LG0, LG1; LD0, LD1 of amendment 14, LC0, LC1 of 15, LK0, LK1 of 16,
#              LW0, LW1, LWK0, LWK1 of 17) `lm2 retention` at 16k, the whole input and its last 4,096 tokens
#   trace R    amendment 11c: the whole input's measurement once more, into retention-far/ (the trace to 128 segments)
# Each training's run files and model are copied into run-<run>/ here when it ends (the models shipped).
set -u
P=results/reproduction/amendment7/pretrain/model
A=runs/reproduction/amendment11
O=results/reproduction/amendment11
books="--data.haystack runs/reproduction/books/pretrain"
lm2="--model.arch lm2 --model.write_penalty 0 --model.memory_read_center gated"
# amendment 10's 500 steps, unchanged
long="--config configs/reproduction/round2-qa1.yaml $books --run.steps 500 --optim.lr 1e-3 --optim.warmup_steps 50 --run.eval_every 250 --run.save_every 250 --curriculum.draw_segments true --curriculum.segments 32,64 --curriculum.max_facts 0,0 --curriculum.stage_steps 250,0 --run.threads 1"
test="--tasks qa1 --samples 100 --seed 0 --babi ../shared/data/babi --haystack runs/reproduction/books/heldout --threads 1"
model() {
  case $1 in
    L) echo results/reproduction/amendment9/run-L/model ;;
    L-rmt|L-armt) echo results/reproduction/amendment9/run-$1/model ;;
    L1) echo results/reproduction/amendment10/run-L1/model ;;
    LG*) echo $O/run-$1/model ;;
    LD0|LD1) echo results/reproduction/amendment14/run-$1/model ;;
    LC0|LC1) echo results/reproduction/amendment15/run-$1/model ;;
    LK0|LK1) echo results/reproduction/amendment16/run-$1/model ;;
    LW0|LW1|LWK0|LWK1) echo results/reproduction/amendment17/run-$1/model ;;
    *) echo "ret, trace: L, L1, L-rmt, L-armt, LG0, LG1, LD0, LD1, LC0, LC1, LK0, LK1, LW0, LW1, LWK0 or LWK1, not '$1'" >&2
       return 2 ;;
  esac
}
ship() { mkdir -p $O/run-$1 && cp -r $A/$1/config.yaml $A/$1/metrics.jsonl $A/$1/model $O/run-$1/; }
run() {
  case $1 in
    GG0|GG1) s=${1#GG}
      lm2 train --config configs/reproduction/round2-qa1.yaml $lm2 --init-from $P $books --data.tokenizer $P \
        --run.seed $s --run.threads 1 --run.out $A/GG$s > logs/a11-GG$s.log 2>&1 && ship GG$s ;;
    LG0|LG1) s=${1#LG}
      lm2 train $long $lm2 --init-from $A/GG$s/model --data.tokenizer $A/GG$s/model --run.seed $s --run.out $A/LG$s \
        > logs/a11-LG$s.log 2>&1 && ship LG$s \
        && lm2 eval $A/LG$s/model --out $O/eval-LG$s --lengths 0k,1k,4k,8k,16k $test > logs/a11-eval-LG$s.log 2>&1 ;;
    *) echo "run: GG0, GG1, LG0, LG1, far R..., ret R... or trace R..., not '$1'" >&2; return 2 ;;
  esac
}
case $1 in
  far) shift
    for r in "$@"; do
      lm2 eval $O/run-$r/model --out $O/eval-far-$r --lengths 2k,32k,64k $test > logs/a11-eval-far-$r.log 2>&1 || exit 1
    done ;;
  ret|trace) [ $1 = ret ] && { folder=retention; keeps="whole 4096"; } || { folder=retention-far; keeps=whole; }
    shift
    for r in "$@"; do
      m=$(model $r) || exit 2
      for keep in $keeps; do
        extra=""; [ $keep = whole ] || extra="--keep-last $keep"
        lm2 retention $m --out $O/$folder/$r-$keep --task qa1 --length 16k --samples 200 --seed 0 \
          --babi ../shared/data/babi --haystack runs/reproduction/books/heldout --bins 4096,8192,12288 $extra \
          --threads 1 > logs/a11-$folder-$r-$keep.log 2>&1 || exit 1
      done
    done ;;
  *) for r in "$@"; do run $r || exit 1; done ;;
esac
