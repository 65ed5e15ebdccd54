#!/bin/bash
# docs/reproduction.md, amendment 35: the study's chain at twice the width. Every stage is its amendment's recipe with
# one change, hidden_size 128 and intermediate_size 512 (the study's: 64 and 256); the tokenizer, the data, the steps,
# the learning rates, the seeds and the tests are theirs.
#   WVS<s>   amendment 19's (VS<s>): full attention from scratch on qa1 at 0k, 14,000 steps; qa1 test (1,000 questions)
#            and the persons test at 0k
#   WVT<s>   amendment 35b: WVS<s> with the learning rate halved (1.5e-3), run only where neither WVS reads qa1 at 0k
#   WBL<s>   amendment 20's (BL<s>) from the backbone (amendment 35a: the first of (WVS0), (WVS1), (WVT0), (WVT1)
#            whose last validation at 0k is at least 90 %; none: no WBL runs): LM2 with the delta write, 3,000 steps of
#            the curriculum to 16 segments
#   WLBL<s>  amendment 21's (LBL<s>) from (WBL<s>): 500 steps on inputs of 1..32, then 1..64 segments
#   WXLBL<s> amendment 23's (XLBL<s>) from (WLBL<s>): 1,000 more steps on inputs of 1..64 segments
# Usage: bash results/reproduction/amendment35/run.sh NAME   (one thread), or a chain of names in order, e.g.
#   bash results/reproduction/amendment35/run.sh WBL0 WLBL0 WXLBL0
# A stage whose tests are in results/ is skipped; a killed run resumes from its last checkpoint when rerun, in a new
# checkout from its copy in results/parked/ (scripts/park_runs.py), which this command restores first and removes
# once the stage's tests are in.
set -eu
R=results/reproduction
O=$R/amendment35
wide="--model.hidden_size 128 --model.intermediate_size 512"
test="--tasks qa1 --samples 100 --seed 0 --babi ../shared/data/babi --haystack runs/reproduction/books/heldout --threads 1"
for name in "$@"; do
  case $name in
    WVS[0-9]|WVT[0-9]|WBL[0-9]|WLBL[0-9]|WXLBL[0-9]) seed=${name: -1} ;;
    *) echo "unknown run $name (WVS<seed>, WVT<seed>, WBL<seed>, WLBL<seed>, WXLBL<seed>)" >&2; exit 2 ;;
  esac
  if [ -f $O/eval-$name/results.json -a -f $O/persons-$name/results.json ]; then
    echo "$name: done ($O/eval-$name, $O/persons-$name)"; continue
  fi
  run=runs/reproduction/amendment35/$name
  parked=results/parked/reproduction/amendment35/$name
  log=logs/a35-$name.log
  mkdir -p logs $O/run-$name
  if ! [ -d runs/reproduction/books/pretrain -a -d runs/reproduction/books/heldout ]; then
    python -c "from lm2.evaluation.study import StudyPlan, split_books; split_books(StudyPlan())"  # links to the books
  fi
  [ ! -d $parked ] || python scripts/park_runs.py unpark  # stopped in an earlier checkout
  case $name in
    WVS*|WVT*)
      lr=""; [ ${name:2:1} = S ] || lr="--optim.lr 1.5e-3"  # amendment 35b
      lm2 train --config configs/reproduction/diagnostic-qa1-0k.yaml --data.tokenizer $R/models/pretrained/lm2/model \
        $wide $lr --model.arch vanilla --model.vanilla_mode full --run.out $run --run.steps 14000 --run.seed $seed \
        --run.threads 1 --run.progress false >> $log 2>&1
      cp -r $run/config.yaml $run/metrics.jsonl $run/model $O/run-$name/
      lm2 eval $run/model --out $O/eval-$name --tasks qa1 --lengths 0k --samples 1000 --seed 0 \
        --babi ../shared/data/babi --threads 1 >> $log 2>&1
      lm2 eval $run/model --out $O/persons-$name --lengths 0k --every-person $test >> $log 2>&1 ;;
    WBL*)
      B=$(python - $O <<'PY'
import json, sys
from pathlib import Path
for run in ("WVS0", "WVS1", "WVT0", "WVT1"):  # amendment 35a: the first whose last validation at 0k is >= 90 %
    metrics = Path(sys.argv[1]) / f"run-{run}" / "metrics.jsonl"
    if not metrics.is_file():
        sys.exit(f"the backbone rule (amendment 35a) reads ({run}) next, and {metrics} is not in")
    evals = [r["eval"] for r in map(json.loads, metrics.read_text().splitlines()) if "eval" in r]
    last = evals[-1]["stage_accuracy"]
    print(f"({run}): last validation at 0k {100 * last:.1f} % (step {evals[-1]['step']})", file=sys.stderr)
    if last >= 0.9:
        print(Path(sys.argv[1]) / f"run-{run}" / "model")
        break
else:
    sys.exit("no wide backbone reads qa1 at 0k (last validation under 90 %): no WBL runs (amendment 35a)")
PY
)
      lm2 train --config configs/reproduction/round2-qa1.yaml $wide --model.arch lm2 --model.write_penalty 0 \
        --model.memory_write delta --model.memory_output read --model.memory_candidate input --init-from $B \
        --data.tokenizer $B --data.haystack runs/reproduction/books/pretrain --curriculum.segments 0,1,2,4,8,16 \
        --curriculum.max_facts 0,0,0,0,0,0 --curriculum.stage_steps 500,500,500,500,500,0 --run.steps 3000 \
        --optim.lr 1e-3 --optim.warmup_steps 100 --run.seed $seed --run.threads 1 --run.progress false \
        --run.out $run >> $log 2>&1
      cp -r $run/config.yaml $run/metrics.jsonl $run/model $O/run-$name/
      lm2 eval $run/model --out $O/eval-$name --lengths 0k,1k,4k,8k,16k $test >> $log 2>&1
      lm2 eval $run/model --out $O/persons-$name --lengths 0k,1k,4k --every-person $test >> $log 2>&1 ;;
    WLBL*|WXLBL*)
      if [ ${name:1:1} = L ]; then S=$O/run-WBL$seed; steps=500; segments="32,64"; facts="0,0"; stages="250,0"
      else S=$O/run-WLBL$seed; steps=1000; segments=64; facts=0; stages=0; fi
      [ -f $S/config.yaml ] || { echo "$name starts from $S, which is not in" >&2; exit 2; }
      lm2 train --config $S/config.yaml --init-from $S/model --data.tokenizer $S/model --run.out $run \
        --run.steps $steps --optim.lr 1e-3 --optim.warmup_steps 50 --run.eval_every 250 --run.save_every 125 \
        --curriculum.draw_segments true --curriculum.segments $segments --curriculum.max_facts $facts \
        --curriculum.stage_steps $stages --run.seed $seed --run.threads 1 --run.progress false >> $log 2>&1
      cp -r $run/config.yaml $run/metrics.jsonl $run/model $O/run-$name/
      lm2 eval $run/model --out $O/eval-$name --lengths 0k,1k,2k,4k,8k,16k $test >> $log 2>&1
      lm2 eval $run/model --out $O/persons-$name --lengths 0k,1k,4k,16k --every-person $test >> $log 2>&1 ;;
  esac
  rm -rf $parked
done
