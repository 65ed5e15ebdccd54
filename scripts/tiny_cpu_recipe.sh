#!/usr/bin/env bash
# Measures the tiny-CPU BABILong recipe (issue 5, docs/training.md): trains configs/tiny-cpu-babilong.yaml
# and scores the final model on 1,000 real bAbI qa1 test questions at 0k with `lm2 eval`.
# Usage: scripts/tiny_cpu_recipe.sh [RUN_DIR]   (default runs/tiny-cpu-babilong; extra `lm2 train` options
# may follow the run directory, e.g. --run.steps 4000)
set -euo pipefail
out=${1:-runs/tiny-cpu-babilong}
shift || true
start=$(date +%s)
lm2 train --config configs/tiny-cpu-babilong.yaml --run.out "$out" "$@"
trained=$(date +%s)
lm2 eval "$out/model" --out "$out/eval-qa1-0k" --tasks qa1 --lengths 0k --samples 1000 --threads 2
echo "training wall time: $((trained - start)) s; evaluation: $(( $(date +%s) - trained )) s"
