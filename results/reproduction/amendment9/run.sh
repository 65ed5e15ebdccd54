set -u
G=results/reproduction/amendment7/qa1-noprice-seed0/model
common="--config configs/reproduction/round2-qa1.yaml --model.write_penalty 0 --data.tokenizer $G --data.haystack runs/reproduction/books/pretrain --run.steps 500 --optim.lr 1e-3 --optim.warmup_steps 50 --run.eval_every 250 --run.save_every 250 --curriculum.draw_segments true --run.threads 1"
ev() { lm2 eval runs/reproduction/amendment9/$1/model --out results/reproduction/amendment9/eval-$1 --tasks qa1 --lengths 0k,1k,4k,8k,16k --samples 100 --seed 0 --babi ../shared/data/babi --haystack runs/reproduction/books/heldout --threads 1 > logs/a9-eval-$1.log 2>&1; }
case $1 in
 L) lm2 train $common --model.arch lm2 --init-from $G --curriculum.segments 32,64 --curriculum.max_facts 0,0 --curriculum.stage_steps 250,0 --run.out runs/reproduction/amendment9/L > logs/a9-L.log 2>&1 && ev L ;;
 S) lm2 train $common --model.arch lm2 --init-from $G --curriculum.segments 16 --curriculum.max_facts 0 --curriculum.stage_steps 0 --run.out runs/reproduction/amendment9/S > logs/a9-S.log 2>&1 && ev S
    lm2 train $common --model.arch rmt --init-from results/reproduction/round2/models/qa1/rmt-seed0/model --curriculum.segments 32,64 --curriculum.max_facts 0,0 --curriculum.stage_steps 250,0 --run.out runs/reproduction/amendment9/L-rmt > logs/a9-L-rmt.log 2>&1 && ev L-rmt ;;
esac
# amendment 9b
case $1 in
 L-armt) lm2 train $common --model.arch armt --init-from results/reproduction/round2/models/qa1/armt-seed0/model --curriculum.segments 32,64 --curriculum.max_facts 0,0 --curriculum.stage_steps 250,0 --run.out runs/reproduction/amendment9/L-armt > logs/a9-L-armt.log 2>&1 && ev L-armt ;;
 L-lm2-paper) lm2 train $common --model.arch lm2 --model.memory_preset paper --init-from results/reproduction/round2/models/qa1/lm2-paper-seed0/model --curriculum.segments 32,64 --curriculum.max_facts 0,0 --curriculum.stage_steps 250,0 --run.out runs/reproduction/amendment9/L-lm2-paper > logs/a9-L-lm2-paper.log 2>&1 && ev L-lm2-paper ;;
esac
