# docs/reproduction.md, amendment 18b: amendment 14's LM2 given 1,000 more steps on 1..16 segments, trained only on the
# questions whose answer is not the story's latest fact's place (data.drop_shortcut), against the same steps on all
# questions; then every person of each test input asked in turn (persons.py).
# Usage: bash results/reproduction/amendment18/run.sh <run>...; each training resumes from its last checkpoint when rerun.
#   S0, S1     (LD<s>) + 1,000 steps on 1..16 segments with data.drop_shortcut, seed 0 / 1, then evaluated at 0k-16k
#   C0, C1     the control: the same steps on every question
#   data       the persons' questions (persons.py build) into runs/reproduction/amendment18/persons
#   persons R  (R: LD0, LD1, S0, S1, C0, C1, armt0, armt1) evaluated on them
#   score      persons.py score of every persons-<R>/ here into persons.json
# Each training's run files and model are copied into run-<run>/ here when it ends (the models shipped).
set -u
A=runs/reproduction/amendment18
O=results/reproduction/amendment18
R=results/reproduction
books="--data.haystack runs/reproduction/books/pretrain"
lm2="--model.arch lm2 --model.write_penalty 0 --model.memory_write delta --model.memory_output read --model.memory_candidate input"
more="--config configs/reproduction/round2-qa1.yaml $books --run.steps 1000 --optim.lr 1e-3 --optim.warmup_steps 50 --run.eval_every 500 --run.save_every 250 --curriculum.draw_segments true --curriculum.segments 16 --curriculum.max_facts 0 --curriculum.stage_steps 0 --run.threads 1"
test="--tasks qa1 --samples 100 --seed 0 --babi ../shared/data/babi --haystack runs/reproduction/books/heldout --threads 1"
LENGTHS=0k,1k,4k,16k
mkdir -p logs
ship() { mkdir -p $O/run-$1 && cp -r $A/$1/config.yaml $A/$1/metrics.jsonl $A/$1/model $O/run-$1/; }
model() {  # the model folder of R and its shipped evaluation (for persons.py's check)
  case $1 in
    LD0|LD1) echo "$R/amendment14/run-$1/model $R/amendment14/eval-$1" ;;
    S0|S1|C0|C1) echo "$O/run-$1/model $O/eval-$1" ;;
    armt0) echo "$R/amendment9/run-L-armt/model $R/amendment9/eval-L-armt" ;;
    armt1) echo "$R/amendment10/run-L-armt1/model $R/amendment10/eval-L-armt1" ;;
    *) return 2 ;;
  esac
}
run() {
  case $1 in
    S0|S1|C0|C1) s=${1:1}; drop=false; [ ${1:0:1} = S ] && drop=true
      lm2 train $more $lm2 --data.drop_shortcut $drop --init-from $R/amendment14/run-LD$s/model \
        --data.tokenizer $R/amendment14/run-LD$s/model --run.seed $s --run.out $A/$1 > logs/a18-$1.log 2>&1 && ship $1 \
        && lm2 eval $A/$1/model --out $O/eval-$1 --lengths $LENGTHS $test > logs/a18-eval-$1.log 2>&1 ;;
    data) python $O/persons.py build $A/persons $R/amendment14/run-LD0/model ${LENGTHS//,/ } > logs/a18-data.log 2>&1 ;;
    *) echo "run: S0, S1, C0, C1, data, persons R... or score, not '$1'" >&2; return 2 ;;
  esac
}
case $1 in
  persons) shift
    for r in "$@"; do
      found=$(model $r) || { echo "persons: no model '$r'" >&2; exit 2; }
      lm2 eval ${found% *} --out $O/persons-$r --data $A/persons --lengths $LENGTHS --threads 1 > logs/a18-persons-$r.log 2>&1 || exit 1
    done ;;
  score)
    pairs=""
    for r in LD0 LD1 S0 S1 C0 C1 armt0 armt1; do
      found=$(model $r)
      [ -d $O/persons-$r ] && pairs="$pairs $O/persons-$r=${found#* }"
    done
    python $O/persons.py score $O/persons.json $A/persons $pairs 2>&1 | tee $O/persons.log ;;
  *) for r in "$@"; do run $r || exit 1; done ;;
esac
