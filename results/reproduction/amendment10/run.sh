# docs/reproduction.md, amendment 10: amendment 9's pilot (500 more steps on inputs of 1..32 then 1..64 segments)
# on fine-tuning seed 1 for LM2 without the write price, RMT and ARMT, and on both seeds for full attention.
# Usage: bash results/reproduction/amendment10/run.sh <run>; each run resumes from its last checkpoint when rerun.
# Two runs at a time, one thread each: (G1 then L1) beside (L-rmt1, L-armt1, V0), then V1 on the core left free.
set -u
P=results/reproduction/amendment7/pretrain/model
R=results/reproduction/round2/models/qa1
A=runs/reproduction/amendment10
books="--data.haystack runs/reproduction/books/pretrain"
# amendment 9's 500 steps, unchanged but for the seed and the model they start from
long="--config configs/reproduction/round2-qa1.yaml $books --run.steps 500 --optim.lr 1e-3 --optim.warmup_steps 50 --run.eval_every 250 --run.save_every 250 --curriculum.draw_segments true --curriculum.segments 32,64 --curriculum.max_facts 0,0 --curriculum.stage_steps 250,0 --run.threads 1"
ev() { lm2 eval $A/$1/model --out results/reproduction/amendment10/eval-$1 --tasks qa1 --lengths 0k,1k,4k,8k,16k --samples 100 --seed 0 --babi ../shared/data/babi --haystack runs/reproduction/books/heldout --threads 1 > logs/a10-eval-$1.log 2>&1; }
case $1 in
 # amendment 7's (G) on fine-tuning seed 1: round 2's recipe from (P) with no write price
 G1) lm2 train --config configs/reproduction/round2-qa1.yaml --model.arch lm2 --model.write_penalty 0 --init-from $P \
       $books --data.tokenizer $P --run.seed 1 --run.threads 1 --run.out $A/G1 > logs/a10-G1.log 2>&1 && ev G1 ;;
 L1) lm2 train $long --model.arch lm2 --model.write_penalty 0 --init-from $A/G1/model --data.tokenizer $A/G1/model \
       --run.seed 1 --run.out $A/L1 > logs/a10-L1.log 2>&1 && ev L1 ;;
 L-rmt1) lm2 train $long --model.arch rmt --init-from $R/rmt-seed1/model --data.tokenizer $R/rmt-seed1/model \
       --run.seed 1 --run.out $A/L-rmt1 > logs/a10-L-rmt1.log 2>&1 && ev L-rmt1 ;;
 L-armt1) lm2 train $long --model.arch armt --init-from $R/armt-seed1/model --data.tokenizer $R/armt-seed1/model \
       --run.seed 1 --run.out $A/L-armt1 > logs/a10-L-armt1.log 2>&1 && ev L-armt1 ;;
 V0|V1) s=${1#V}
     lm2 train $long --model.arch vanilla --init-from $R/vanilla-seed$s/model --data.tokenizer $R/vanilla-seed$s/model \
       --run.seed $s --run.out $A/V$s > logs/a10-V$s.log 2>&1 && ev V$s ;;
 # amendment 10b (withdrawn), run as amendment 12a: the paper's LM2 on seed 1; its model is shipped in run-L-lm2-paper1/
 L-lm2-paper1) lm2 train $long --model.arch lm2 --model.memory_preset paper --init-from $R/lm2-paper-seed1/model \
       --data.tokenizer $R/lm2-paper-seed1/model --run.seed 1 --run.out $A/L-lm2-paper1 > logs/a10-L-lm2-paper1.log 2>&1 \
       && ev L-lm2-paper1 && mkdir -p results/reproduction/amendment10/run-L-lm2-paper1 \
       && cp -r $A/L-lm2-paper1/config.yaml $A/L-lm2-paper1/metrics.jsonl $A/L-lm2-paper1/model \
          results/reproduction/amendment10/run-L-lm2-paper1/ ;;
 # amendment 10c: `run.sh far R...`, the 2k, 32k and 64k cells of the memory models (R: L, L-rmt, L-armt, L-lm2-paper of
 # amendment 9, L1, L-rmt1, L-armt1, L-lm2-paper1) and full attention's 2k (V0, V1; its 32k and 64k do not fit the CPU)
 far) shift
     for r in "$@"; do
       case $r in V*) m=$A/$r/model; n=2k ;; *1) m=$A/$r/model; n=2k,32k,64k ;; *) m=runs/reproduction/amendment9/$r/model; n=2k,32k,64k ;; esac
       lm2 eval $m --out results/reproduction/amendment10/eval-far-$r --tasks qa1 --lengths $n --samples 100 --seed 0 \
         --babi ../shared/data/babi --haystack runs/reproduction/books/heldout --threads 1 > logs/a10-eval-far-$r.log 2>&1 || exit 1
     done ;;
 *) echo "run: G1, L1, L-rmt1, L-armt1, V0, V1, L-lm2-paper1 or far R..., not '$1'" >&2; exit 2 ;;
esac
