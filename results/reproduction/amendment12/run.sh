# docs/reproduction.md, amendment 12b: `lm2 probe` of the study's 64-segment memory models at 16k.
# Usage: bash results/reproduction/amendment12/run.sh R...; R: L, L1, LG0, LG1, L-rmt, L-rmt1, L-armt, L-armt1, and
# (amendment 12c) the paper's LM2, L-lm2-paper and L-lm2-paper1, (amendment 13) LM2 with addressed writes, LA0 and LA1,
# (amendment 14) LM2 with the delta write, LD0 and LD1, (amendment 15) the same with its bank clipped, LC0 and LC1, and
# (amendment 16) the same addressed by content, LK0 and LK1.
# Each model's probe writes results/reproduction/amendment12/probe/<R>/; a finished one is skipped when rerun.
set -u
O=results/reproduction/amendment12/probe
model() {
  case $1 in
    L|L-rmt|L-armt|L-lm2-paper) echo results/reproduction/amendment9/run-$1/model ;;
    L1|L-rmt1|L-armt1|L-lm2-paper1) echo results/reproduction/amendment10/run-$1/model ;;
    LG0|LG1) echo results/reproduction/amendment11/run-$1/model ;;
    LA0|LA1) echo results/reproduction/amendment13/run-$1/model ;;
    LD0|LD1) echo results/reproduction/amendment14/run-$1/model ;;
    LC0|LC1) echo results/reproduction/amendment15/run-$1/model ;;
    LK0|LK1) echo results/reproduction/amendment16/run-$1/model ;;
    *) echo "run.sh: L, L1, LG0, LG1, L-rmt, L-rmt1, L-armt, L-armt1, L-lm2-paper, L-lm2-paper1, LA0, LA1, LD0, LD1, LC0, LC1, LK0 or LK1, not '$1'" >&2
       return 2 ;;
  esac
}
for r in "$@"; do
  m=$(model $r) || exit 2
  [ -f $O/$r/probe.json ] && continue
  lm2 probe $m --out $O/$r --overwrite --task qa1 --length 16k --train-samples 1000 --train-seed 1 \
    --train-haystack runs/reproduction/books/pretrain --samples 200 --seed 0 --babi ../shared/data/babi \
    --haystack runs/reproduction/books/heldout --every 16 --bins 4096,8192,12288 --threads 1 \
    > logs/a12-probe-$r.log 2>&1 || exit 1
done
