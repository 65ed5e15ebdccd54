#!/bin/bash
# The study's rows at amendment 23's budget (docs/reproduction.md, "qa1 from (VS0)'s backbone", rows "20 + 21 + 23"), one
# command, resumable. For each run named, the chain of registered commands it needs, in order, each skipped when its
# results are already in results/reproduction:
#   amendment 19's backbone (VS0: full attention from scratch on qa1 at 0k, 14,000 steps),
#   amendment 20's curriculum to 16 segments from it (B..), amendment 21's 500 steps on 1..64 segments (LB..),
#   amendment 23's 1,000 more (XLB..),
# each with its qa1 and persons tests. A stage stopped part-way resumes from its checkpoint in runs/ when this command is
# run again; in a new checkout, from its copy in results/parked/ (scripts/park_runs.py: unparked first, removed once
# the stage's results are in).
# Usage: bash scripts/backbone_study.sh [--jobs N] [--dry-run] [RUN ...]
#   RUN: XLB + a model letter + a seed: L (LM2, the delta write: the study's LM2), Q (LM2, the delta write taken in
#   order), K (LM2, rows addressed by keys of their own), R (RMT), A (ARMT), V (full attention); default: the table's
#   rows, XLBL0 XLBL1 XLBA0 XLBA1 XLBR0 XLBR1 XLBV0 XLBQ0 XLBQ1. --jobs N: N chains at a time (one thread each; default
#   1). --dry-run: print the commands that would run, and run none.
# Logs: logs/a<amendment>-<run>.log (the run scripts'), logs/study-<run>.log (this chain's).
set -eu
R=results/reproduction
jobs=1; dry=0; names=()
while [ $# -gt 0 ]; do
  case $1 in
    --jobs) jobs=$2; shift 2 ;;
    --dry-run) dry=1; shift ;;
    XLB[LQKRAV][0-9]) names+=("$1"); shift ;;
    *) echo "backbone_study.sh: $1 is not a run (XLB + L, Q, K, R, A or V + a seed) or an option (--jobs N, --dry-run)" >&2; exit 2 ;;
  esac
done
[ ${#names[@]} -gt 0 ] || names=(XLBL0 XLBL1 XLBA0 XLBA1 XLBR0 XLBR1 XLBV0 XLBQ0 XLBQ1)
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "backbone_study.sh: --jobs $jobs must be a positive integer" >&2; exit 2; }

# tested AMENDMENT NAME: the run's qa1 and persons results hold every length they were asked for.
tested() {
  python - "$R/$1/eval-$2/results.json" "$R/$1/persons-$2/results.json" <<'EOF'
import json, sys
from pathlib import Path
for path in map(Path, sys.argv[1:]):
    if not path.is_file():
        sys.exit(1)
    result = json.loads(path.read_text())
    if any(set(result["lengths"]) - set(result["accuracy"].get(task, {})) for task in result["tasks"]):
        sys.exit(1)
EOF
}

step() {  # step LOG COMMAND...: run it (or print it under --dry-run), its start and end in LOG; its exit status
  local log=$1 rc=0; shift
  if [ $dry = 1 ]; then echo "$*"; return; fi
  echo "$(date -u +%FT%TZ) start: $*" >> "$log"
  "$@" || rc=$?
  echo "$(date -u +%FT%TZ) $([ $rc = 0 ] && echo done || echo "failed (exit $rc)"): $*" >> "$log"
  return $rc
}

backbone() {  # amendment 19's (VS0), shared by every chain; its run script keeps the run files, the chain the model
  local log=logs/study-VS0.log
  [ -f $R/amendment19/run-VS0/model/config.json ] && return
  step $log bash $R/amendment19/run.sh VS0 || exit 1
  step $log cp -r runs/reproduction/amendment19/VS0/model $R/amendment19/run-VS0/ || exit 1
}

stage() {  # stage LOG AMENDMENT NAME: its run script unless its results are in; then its parked copy, if any, goes
  tested $2 $3 || step $1 bash $R/$2/run.sh $3 || return 1
  [ $dry = 1 ] || rm -rf results/parked/reproduction/$2/$3
}

chain() {  # chain XLB<model><seed>: its stages in order; a failed one ends the chain (status 1)
  local x=$1 log=logs/study-$1.log
  stage $log amendment20 ${x:2} && stage $log amendment21 ${x:1} && stage $log amendment23 $x
}

mkdir -p logs
if [ $dry = 0 ] && ! [ -d runs/reproduction/books/pretrain -a -d runs/reproduction/books/heldout ]; then
  python -c "from lm2.evaluation.study import StudyPlan, split_books; split_books(StudyPlan())"  # links to the dev books
fi
[ $dry = 1 ] || [ ! -d results/parked ] || python scripts/park_runs.py unpark  # runs stopped in an earlier checkout
backbone  # every chain starts from it: before any of them
running=0
for x in "${names[@]}"; do  # a failed stage ends its chain (its log says where); the others go on
  if [ $dry = 1 ] || [ $jobs = 1 ]; then chain $x || true; continue; fi
  (chain $x) & running=$((running + 1))
  if [ $running -ge $jobs ]; then wait -n || true; running=$((running - 1)); fi
done
wait
[ $dry = 1 ] && exit 0
missing=()
for x in "${names[@]}"; do tested amendment23 $x || missing+=("$x"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "backbone_study.sh: not finished: ${missing[*]} (logs/study-<run>.log, logs/a2*-<run>.log); run again to resume" >&2
  exit 1
fi
echo "backbone_study.sh: ${names[*]} trained and tested; python $R/amendment24/compare.py reads them by the tie rule"
