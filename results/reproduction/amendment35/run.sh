#!/bin/bash
# docs/reproduction.md, amendments 35 and 36: the study's chain at a larger size. Every stage is its amendment's recipe
# with one change of size; the tokenizer, the data, the steps, the learning rates, the seeds and the tests are theirs.
# A name is a size letter, a stage and a seed:
#   size  W (amendment 35): hidden_size 128, intermediate_size 512 (the study's: 64, 256); results in amendment35/
#         D (amendment 36): num_hidden_layers 4 (the study's: 2); results in amendment36/
#   VS<s>   amendment 19's (VS<s>): full attention from scratch on qa1 at 0k, 14,000 steps; qa1 test (1,000 questions)
#           and the persons test at 0k
#   VT<s>   amendment 35b (W only): WVS<s> with the learning rate halved (1.5e-3), where neither WVS reads qa1 at 0k
#   BL<s>   amendment 20's (BL<s>) from the size's backbone (amendment 35a: the first of its VS0, VS1 (W: then VT0, VT1)
#           whose last validation at 0k is at least 90 %; none: no BL runs): LM2 with the delta write, 3,000 steps of
#           the curriculum to 16 segments
#   LBL<s>  amendment 21's (LBL<s>) from BL<s>: 500 steps on inputs of 1..32, then 1..64 segments
#   XLBL<s> amendment 23's (XLBL<s>) from LBL<s>: 1,000 more steps on inputs of 1..64 segments
# Usage: bash results/reproduction/amendment35/run.sh NAME   (one thread), or a chain of names in order, e.g.
#   bash results/reproduction/amendment35/run.sh WBL0 WLBL0 WXLBL0
# A stage whose tests are in results/ is skipped; a killed run resumes from its last checkpoint when rerun, in a new
# checkout from its copy in results/parked/ (scripts/park_runs.py), which this command restores first and removes
# once the stage's tests are in.
set -eu
R=results/reproduction
test="--tasks qa1 --samples 100 --seed 0 --babi ../shared/data/babi --haystack runs/reproduction/books/heldout --threads 1"
for name in "$@"; do
  case $name in
    WVS[0-9]|WVT[0-9]|[WD]BL[0-9]|[WD]LBL[0-9]|[WD]XLBL[0-9]|DVS[0-9]) seed=${name: -1}; size=${name:0:1} ;;
    *) echo "unknown run $name (W or D, then VS, BL, LBL or XLBL (W also VT), then a seed: WVS0, DBL1, ...)" >&2
       exit 2 ;;
  esac
  if [ $size = W ]; then
    amendment=35; grow="--model.hidden_size 128 --model.intermediate_size 512"; backbones="WVS0 WVS1 WVT0 WVT1"
  else
    amendment=36; grow="--model.num_hidden_layers 4"; backbones="DVS0 DVS1"
  fi
  O=$R/amendment$amendment
  if [ -f $O/eval-$name/results.json -a -f $O/persons-$name/results.json ]; then
    echo "$name: done ($O/eval-$name, $O/persons-$name)"; continue
  fi
  run=runs/reproduction/amendment$amendment/$name
  parked=results/parked/reproduction/amendment$amendment/$name
  log=logs/a$amendment-$name.log
  mkdir -p logs $O/run-$name
  if ! [ -d runs/reproduction/books/pretrain -a -d runs/reproduction/books/heldout ]; then
    python -c "from lm2.evaluation.study import StudyPlan, split_books; split_books(StudyPlan())"  # links to the books
  fi
  [ ! -d $parked ] || python scripts/park_runs.py unpark  # stopped in an earlier checkout
  case ${name:1} in
    VS*|VT*)
      lr=""; [ ${name:2:1} = S ] || lr="--optim.lr 1.5e-3"  # amendment 35b
      lm2 train --config configs/reproduction/diagnostic-qa1-0k.yaml --data.tokenizer $R/models/pretrained/lm2/model \
        $grow $lr --model.arch vanilla --model.vanilla_mode full --run.out $run --run.steps 14000 --run.seed $seed \
        --run.threads 1 --run.progress false >> $log 2>&1
      cp -r $run/config.yaml $run/metrics.jsonl $run/model $O/run-$name/
      lm2 eval $run/model --out $O/eval-$name --tasks qa1 --lengths 0k --samples 1000 --seed 0 \
        --babi ../shared/data/babi --threads 1 >> $log 2>&1
      lm2 eval $run/model --out $O/persons-$name --lengths 0k --every-person $test >> $log 2>&1 ;;
    BL*)
      B=$(python - $O $backbones <<'PY'
import json, sys
from pathlib import Path
for run in sys.argv[2:]:  # amendment 35a: the first backbone whose last validation at 0k is at least 90 %
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
    sys.exit(f"no backbone of {', '.join(sys.argv[2:])} reads qa1 at 0k (last validation under 90 %): no BL runs")
PY
)
      lm2 train --config configs/reproduction/round2-qa1.yaml $grow --model.arch lm2 --model.write_penalty 0 \
        --model.memory_write delta --model.memory_output read --model.memory_candidate input --init-from $B \
        --data.tokenizer $B --data.haystack runs/reproduction/books/pretrain --curriculum.segments 0,1,2,4,8,16 \
        --curriculum.max_facts 0,0,0,0,0,0 --curriculum.stage_steps 500,500,500,500,500,0 --run.steps 3000 \
        --optim.lr 1e-3 --optim.warmup_steps 100 --run.seed $seed --run.threads 1 --run.progress false \
        --run.out $run >> $log 2>&1
      cp -r $run/config.yaml $run/metrics.jsonl $run/model $O/run-$name/
      lm2 eval $run/model --out $O/eval-$name --lengths 0k,1k,4k,8k,16k $test >> $log 2>&1
      lm2 eval $run/model --out $O/persons-$name --lengths 0k,1k,4k --every-person $test >> $log 2>&1 ;;
    LBL*|XLBL*)
      if [ ${name:1:1} = L ]; then S=$O/run-${size}BL$seed; steps=500; segments="32,64"; facts="0,0"; stages="250,0"
      else S=$O/run-${size}LBL$seed; steps=1000; segments=64; facts=0; stages=0; fi
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
