#!/usr/bin/env bash
# The reproduction study (issue 9, docs/reproduction.md): LM2 vs RMT vs a standard Transformer on BABILong
# qa1-qa5 at small scale, on CPU.
#   1. trains configs/repro/{lm2,rmt,vanilla}.yaml side by side (one CPU thread each; a killed run resumes
#      from its last checkpoint when the script is started again),
#   2. keeps each final model (save_pretrained + tokenizer) and its metrics under results/repro/<arch>/,
#   3. evaluates each with `lm2 eval` on samples built from the bAbI *test* files with the Gutenberg books
#      as background, 100 per cell, at 0k..16k (finished cells are skipped when started again),
#   4. writes the paper-layout table, heatmaps, training curves and the target check (scripts/repro_report.py).
# Usage: scripts/reproduce.sh            (environment: LM2_DATA_DIR, default ../shared/data;
#                                          LENGTHS, default 0k,1k,2k,4k,8k,16k; RUNS, default runs/repro;
#                                          RESULTS, default results/repro; EVAL_THREADS, default 1)
set -euo pipefail
data=${LM2_DATA_DIR:-../shared/data}
runs=${RUNS:-runs/repro}
results=${RESULTS:-results/repro}
lengths=${LENGTHS:-0k,1k,2k,4k,8k,16k}
threads=${EVAL_THREADS:-1}
archs=(lm2 rmt vanilla)
for need in "$data/babi/en-10k" "$data/haystack/dev"; do
  [[ -d $need ]] || { echo "reproduce.sh: $need not found; set LM2_DATA_DIR to the folder holding babi/ and haystack/" >&2; exit 2; }
done
mkdir -p "$runs" "$results"
stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }

echo "$(stamp) training ${archs[*]} side by side (logs: $runs/<arch>.log)"
pids=()
for arch in "${archs[@]}"; do
  lm2 train --config "configs/repro/$arch.yaml" --run.out "$runs/$arch" --data.haystack "$data/haystack/dev" \
    --run.progress false >>"$runs/$arch.log" 2>&1 &
  pids+=($!)
done
for i in "${!archs[@]}"; do
  wait "${pids[$i]}" || { echo "reproduce.sh: training ${archs[$i]} failed; see $runs/${archs[$i]}.log" >&2; exit 1; }
done

for arch in "${archs[@]}"; do
  mkdir -p "$results/$arch"
  rm -rf "$results/$arch/model"
  cp -r "$runs/$arch/model" "$results/$arch/model"
  cp "$runs/$arch/metrics.jsonl" "$results/$arch/metrics.jsonl"
  cp "configs/repro/$arch.yaml" "$results/$arch/config.yaml"
done

echo "$(stamp) evaluating at $lengths (100 samples per cell)"
pids=()
for arch in "${archs[@]}"; do
  lm2 eval "$results/$arch/model" --out "$results/$arch/eval" --tasks qa1,qa2,qa3,qa4,qa5 --lengths "$lengths" \
    --samples 100 --seed 0 --babi "$data/babi" --haystack "$data/haystack/dev" --threads "$threads" \
    >"$runs/$arch-eval.log" 2>&1 &
  pids+=($!)
done
for i in "${!archs[@]}"; do
  wait "${pids[$i]}" || { echo "reproduce.sh: evaluating ${archs[$i]} failed; see $runs/${archs[$i]}-eval.log" >&2; exit 1; }
done

echo "$(stamp) report"
python scripts/repro_report.py "$results"
echo "$(stamp) done"
