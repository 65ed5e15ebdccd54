#!/usr/bin/env bash
# Fills runs/gpu-carry (ignored by git) with what scripts/gpu_study.sh reads on the GPU machine, which sees only the
# repository: the pretraining shards and the held-out books as plain files (links do not travel), bAbI's qa1 files,
# the study's tokenizer, round 2's full-attention models, stage 15's 1k qa1 input (docs/memory.md) and the two Python
# packages that machine lacks. After `lm2 reproduce --stages books` and `lm2 data tokenize` have made
# runs/reproduction/{books,shards}. The call itself (docs/gpu.md) carries runs/gpu-carry with the repository, whose
# tracked results/ are over what a call takes: move results/reproduction, results/memory and results/repro aside for it.
set -euo pipefail
DATA=${LM2_DATA_DIR:-../shared/data}
C=runs/gpu-carry
rm -rf "$C"; mkdir -p "$C/heldout" "$C/babi/en-10k" "$C/tokenizer" "$C/whl"
cp -r runs/reproduction/shards/pretrain "$C/shards"
cp -L runs/reproduction/books/heldout/*.txt "$C/heldout/"
cp "$DATA"/babi/en-10k/qa1_* "$C/babi/en-10k/"
P=results/reproduction/models/pretrained/lm2/model
cp "$P"/tokenizer* "$C/tokenizer/"
for s in 0 1; do cp -r results/reproduction/round2/models/qa1/vanilla-seed$s/model "$C/vanilla-seed$s"; done
M=results/reproduction/round2/models/qa1/lm2-seed0/model  # stage 15's input: the first 1k qa1 sample, held-out books
lm2 data babilong --tasks qa1 --lengths 1k --samples 4 --out "$C/bab1k" --tokenizer $M --haystack runs/reproduction/books/heldout
python3 -c "import json, sys; x = json.load(open(sys.argv[1]))[0]; print(x['input'], x['question'])" "$C/bab1k/qa1/1k.json" \
    > "$C/qa1-1k.txt"
rm -r "$C/bab1k"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d "$C/whl" jsonargparse==4.53.0 docstring-parser==0.18.0
du -sh "$C"
