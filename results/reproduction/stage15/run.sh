#!/bin/bash
# Stage 15 (docs/memory.md): the candidate's qa1 run, its evaluation and memory ablation (`bash run.sh SEED`).
cd "$(dirname "$0")/../../.."  # the repository root
S=$1
R=runs/reproduction/stage15/qa1/lm2-reopen-seed$S
echo "train seed $S start $(date -u +%FT%TZ)"
lm2 train --config configs/reproduction/round2-qa1.yaml --model.arch lm2 --model.memory_gate_grad reopen \
    --data.haystack runs/reproduction/books/pretrain --data.tokenizer results/reproduction/models/pretrained/lm2/model \
    --init-from results/reproduction/models/pretrained/lm2/model --run.seed $S --run.out $R --run.progress false
echo "train seed $S exit $? $(date -u +%FT%TZ)"
lm2 eval $R/model --out results/reproduction/stage15/eval/lm2-reopen-seed$S \
    --tasks qa1 --lengths 0k,1k,2k,4k,8k,16k,32k,64k --samples 100 --seed 0 --haystack runs/reproduction/books/heldout --threads 1
echo "eval seed $S exit $? $(date -u +%FT%TZ)"
lm2 ablate $R/model --out results/reproduction/stage15/ablate/lm2-reopen-seed$S \
    --variants memory-off --tasks qa1 --lengths 0k,1k,4k,16k --haystack runs/reproduction/books/heldout --threads 1
echo "ablate seed $S exit $? $(date -u +%FT%TZ)"
