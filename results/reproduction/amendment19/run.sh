#!/bin/bash
# docs/reproduction.md, amendment 19: can the study's backbone with full attention master qa1 at 0k? One run of the
# tiny-CPU recipe at 0k (14,000 steps, batch 32, lr 3e-3, stories of at most 2, 4, 6 facts for 800 steps each, then
# whole stories) for `vanilla` (full attention), then its score on 1,000 bAbI qa1 test questions at 0k and the persons
# test (every person of each story asked, 100 stories) at 0k.
# Usage: bash results/reproduction/amendment19/run.sh NAME   (NAME: VT0, VS0, VS1, VP0, VP1; one thread each)
#   VT<s>: configs/tiny-cpu-babilong.yaml as documented (its offline tokenizer), from scratch
#   VS<s>: configs/reproduction/diagnostic-qa1-0k.yaml (the study's backbone and tokenizer), from scratch
#   VP<s>: the same from the study's pretrained `vanilla`
# A killed run resumes from its last checkpoint when the same command is run again.
set -eu
name=$1; seed=${name:2:1}
R=results/reproduction
O=$R/amendment19
run=runs/reproduction/amendment19/$name
study="--config configs/reproduction/diagnostic-qa1-0k.yaml --data.tokenizer $R/models/pretrained/lm2/model"
case ${name:0:2} in
  VT) args="--config configs/tiny-cpu-babilong.yaml --model.memory_preset null" ;;
  VS) args="$study" ;;
  VP) args="$study --init-from $R/models/pretrained/vanilla/model" ;;
  *) echo "unknown run $name (VT0, VS0, VS1, VP0, VP1)" >&2; exit 2 ;;
esac
mkdir -p logs $O/run-$name
lm2 train $args --model.arch vanilla --model.vanilla_mode full --run.out $run --run.steps 14000 --run.seed $seed \
  --run.threads 1 --run.progress false > logs/a19-$name.log 2>&1
cp $run/config.yaml $run/metrics.jsonl $O/run-$name/
lm2 eval $run/model --out $O/eval-$name --tasks qa1 --lengths 0k --samples 1000 --seed 0 --babi ../shared/data/babi \
  --threads 1 >> logs/a19-$name.log 2>&1
lm2 eval $run/model --out $O/persons-$name --tasks qa1 --lengths 0k --every-person --samples 100 --seed 0 \
  --babi ../shared/data/babi --haystack runs/reproduction/books/heldout --threads 1 >> logs/a19-$name.log 2>&1
