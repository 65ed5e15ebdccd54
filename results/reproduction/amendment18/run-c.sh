# docs/reproduction.md, amendment 18c: amendment 18b's test (every person asked, persons.py) at 0k and 1k on the rows
# that amendment 18's weaker rule counted as answering the person at 0k, and RMT.
# Usage: bash results/reproduction/amendment18/run-c.sh (after run.sh data); evaluations resume when rerun.
set -u
A=runs/reproduction/amendment18
O=results/reproduction/amendment18
R=results/reproduction
R2=$R/round2
mkdir -p logs
pairs=""
add() {  # name, model folder, its shipped evaluation
  lm2 eval $2 --out $O/persons-$1 --data $A/persons --lengths 0k,1k --threads 1 > logs/a18-persons-$1.log 2>&1 || exit 1
  pairs="$pairs $O/persons-$1=$3"
}
for s in 0 1; do
  for m in lm2 lm2-paper rmt; do add r2-$m$s $R2/models/qa1/$m-seed$s/model $R2/eval/qa1/$m-seed$s; done
  add LG$s $R/amendment11/run-LG$s/model $R/amendment11/eval-LG$s
  add LA$s $R/amendment13/run-LA$s/model $R/amendment13/eval-LA$s
  add LK$s $R/amendment16/run-LK$s/model $R/amendment16/eval-LK$s
done
add paper64-0 $R/amendment9/run-L-lm2-paper/model $R/amendment9/eval-L-lm2-paper
add paper64-1 $R/amendment10/run-L-lm2-paper1/model $R/amendment10/eval-L-lm2-paper1
add rmt64-0 $R/amendment9/run-L-rmt/model $R/amendment9/eval-L-rmt
add rmt64-1 $R/amendment10/run-L-rmt1/model $R/amendment10/eval-L-rmt1
python $O/persons.py score $O/persons-c.json $A/persons $pairs 2>&1 | tee $O/persons-c.log
