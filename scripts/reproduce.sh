#!/usr/bin/env bash
# The reproduction study (issue 9, docs/reproduction.md): LM2 vs RMT vs a standard Transformer on BABILong
# qa1-qa5 at small scale, on CPU.
#   for each of lm2, rmt, vanilla, side by side (one CPU thread each):
#   1. trains configs/repro/<arch>.yaml (a killed run resumes from its last checkpoint when the script is
#      started again; skipped once runs/repro/<arch>/model exists),
#   2. keeps the final model (save_pretrained + tokenizer), its metrics and config under results/repro/<arch>/,
#   3. evaluates it with `lm2 eval` on samples built from the bAbI *test* files with the Gutenberg books
#      as background, 100 per cell, at 0k..32k (finished cells are skipped when started again);
#   then writes the paper-layout table, heatmaps, training curves and the target check (scripts/repro_report.py)
#   and evaluates the memory ablations of the trained LM2 (`lm2 ablate`, into $RESULTS/ablations/).
# Usage: scripts/reproduce.sh            (environment: LM2_DATA_DIR, default ../shared/data;
#                                          LENGTHS, default 0k,1k,2k,4k,8k,16k,32k; RUNS, default runs/repro;
#                                          RESULTS, default results/repro; EVAL_THREADS, default 1;
#                                          ARCHS, default "lm2 rmt vanilla": a subset runs only those, no report;
#                                          SAMPLES, default 100; TRAIN_ARGS: extra `lm2 train` options, e.g.
#                                          "--run.steps 20" for a smoke test; ABLATE_LENGTHS, default 0k,2k,8k
#                                          (a subset of LENGTHS), ABLATE=0 skips the ablations)
# The bank-size ablation (LM2 retrained with banks of 16 and 64 rows, configs/repro/lm2-bank*.yaml), then the
# report again (it adds results/repro/ablations/bank_size/ when those runs exist):
#   ARCHS="lm2-bank16 lm2-bank64" RESULTS=results/repro/ablations scripts/reproduce.sh
#   python scripts/repro_report.py results/repro
set -euo pipefail
data=${LM2_DATA_DIR:-../shared/data}
runs=${RUNS:-runs/repro}
results=${RESULTS:-results/repro}
lengths=${LENGTHS:-0k,1k,2k,4k,8k,16k,32k}
threads=${EVAL_THREADS:-1}
samples=${SAMPLES:-100}
read -r -a archs <<<"${ARCHS:-lm2 rmt vanilla}"
for need in "$data/babi/en-10k" "$data/haystack/dev"; do
  [[ -d $need ]] || { echo "reproduce.sh: $need not found; set LM2_DATA_DIR to the folder holding babi/ and haystack/" >&2; exit 2; }
done
mkdir -p "$runs" "$results"
stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# One architecture: train (skipped when its final model exists), keep the model, evaluate.
study() {
  local arch=$1
  if [[ ! -f $runs/$arch/model/config.json ]]; then
    echo "$(stamp) $arch: training (log: $runs/$arch.log)"
    lm2 train --config "configs/repro/$arch.yaml" --run.out "$runs/$arch" --data.haystack "$data/haystack/dev" \
      --run.progress false ${TRAIN_ARGS:-} >>"$runs/$arch.log" 2>&1
  fi
  mkdir -p "$results/$arch"
  rm -rf "$results/$arch/model"
  cp -r "$runs/$arch/model" "$results/$arch/model"
  cp "$runs/$arch/metrics.jsonl" "$results/$arch/metrics.jsonl"
  cp "configs/repro/$arch.yaml" "$results/$arch/config.yaml"
  echo "$(stamp) $arch: evaluating at $lengths, $samples samples per cell (log: $runs/$arch-eval.log)"
  lm2 eval "$results/$arch/model" --out "$results/$arch/eval" --tasks qa1,qa2,qa3,qa4,qa5 --lengths "$lengths" \
    --samples "$samples" --seed 0 --babi "$data/babi" --haystack "$data/haystack/dev" --threads "$threads" \
    >>"$runs/$arch-eval.log" 2>&1
  echo "$(stamp) $arch: done"
}

pids=()
for arch in "${archs[@]}"; do
  study "$arch" &
  pids+=($!)
done
for i in "${!archs[@]}"; do
  wait "${pids[$i]}" || { echo "reproduce.sh: ${archs[$i]} failed; see $runs/${archs[$i]}.log and $runs/${archs[$i]}-eval.log" >&2; exit 1; }
done

if [[ ${#archs[@]} -eq 3 ]]; then
  echo "$(stamp) report"
  python scripts/repro_report.py "$results"
  if [[ ${ABLATE:-1} != 0 ]]; then
    echo "$(stamp) ablations (log: $runs/ablate.log)"
    retrained=()  # the LM2 retrained with memory in block 0 only, when it has been run (docs/reproduction.md)
    [[ -f $results/ablations/lm2-block0/eval/results.json ]] && retrained=(--retrained "$results/ablations/lm2-block0/eval")
    lm2 ablate "$results/lm2/model" --out "$results/ablations" --lengths "${ABLATE_LENGTHS:-0k,2k,8k}" \
      --samples "$samples" --babi "$data/babi" --haystack "$data/haystack/dev" --threads "$threads" \
      --reference "$results/lm2/eval" ${retrained[@]+"${retrained[@]}"} >>"$runs/ablate.log" 2>&1
    cat "$results/ablations/ablations.md"
  fi
fi
echo "$(stamp) done"
