# docs/reproduction.md, amendment 18d: amendment 18b's test (every person asked, persons.py) on full attention, round
# 2's and the 64-segment round's, both seeds, at 0k, 1k and 4k.
# Usage: bash results/reproduction/amendment18/run-d.sh (after run.sh data); evaluations resume when rerun.
set -u
A=runs/reproduction/amendment18
O=results/reproduction/amendment18
R=results/reproduction
mkdir -p logs
pairs=""
for s in 0 1; do
  for m in r2-vanilla$s:$R/round2/models/qa1/vanilla-seed$s/model:$R/round2/eval/qa1/vanilla-seed$s \
           vanilla64-$s:$R/amendment10/run-V$s/model:$R/amendment10/eval-V$s; do
    IFS=: read -r name model shipped <<< "$m"
    lm2 eval $model --out $O/persons-$name --data $A/persons --lengths 0k,1k,4k --threads 1 \
      > logs/a18-persons-$name.log 2>&1 || exit 1
    pairs="$pairs $O/persons-$name=$shipped"
  done
done
python $O/persons.py score $O/persons-d.json $A/persons $pairs 2>&1 | tee $O/persons-d.log
