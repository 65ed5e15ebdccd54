#!/usr/bin/env bash
# docs/reproduction.md, "Amendment 8": the study's pretraining at about 10M parameters and the full-attention cells
# past 16k, on one lent GPU. One call of the device tool, after scripts/gpu_study_prep.sh has filled runs/gpu-carry:
#   bash scripts/gpu_study.sh            (on the GPU machine; writes $OUT/gpu_study.tar.gz and prints a summary)
#   SEED=1 EVALS=0 bash scripts/gpu_study.sh   (amendment 8b: seed 1 of the pretraining, no evaluations)
#   DEV=cpu STEPS=2 SMOKE=1 OUT=/tmp/x bash scripts/gpu_study.sh     (the same commands as a CPU dry run)
# Every job runs in the background with its own log; the pretraining runs are stopped at DEADLINE seconds (those
# that did not finish are reported so, with no perplexity), then each finished model's held-out perplexity.
set -uo pipefail
C=runs/gpu-carry
OUT=${OUT:?set OUT}
DEV=${DEV:-cuda}
DEADLINE=${DEADLINE:-330}
SEED=${SEED:-0}
W=runs/gpu-study
MODELS=${MODELS:-"lm2 lm2-paper rmt armt vanilla vanilla-segmented lm2-noprice"}
if [ -d "$C/whl" ] && ! python3 -c "import jsonargparse" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$C"/whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
lm2() { python3 -m lm2_command "$@"; }
mkdir -p "$W/logs"
T0=$(date +%s)
{ date -u; nvidia-smi 2>&1 | head -15; python3 -c "import torch, transformers; print(torch.__version__, transformers.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())"; nproc; } > "$W/machine.txt" 2>&1

# Full attention (round 2's vanilla, both seeds) at 16k (checks the CPU cell), 32k and 64k: the cells the CPU's guard left unrun.
LENGTHS=${LENGTHS:-16k,32k,64k}
[ "${EVALS:-1}" = 1 ] && for s in 0 1; do
    lm2 eval "$C/vanilla-seed$s" --out "$W/eval/vanilla-seed$s" --tasks qa1 --lengths "$LENGTHS" --samples "${SAMPLES:-100}" \
        --seed 0 --babi "$C/babi" --haystack "$C/heldout" --max-tokens 70000 --device "$DEV" > "$W/logs/eval-vanilla-seed$s.log" 2>&1 &
done

# Pretraining, every model at once (one process each), the same file, tokens, steps and seed.
variant() {
    case $1 in
        lm2-noprice) echo "--model.arch lm2 --model.write_penalty 0" ;;
        *) python3 -c "import sys; from lm2.evaluation.study import variant_args; print(' '.join(variant_args(sys.argv[1])))" "$1" ;;
    esac
}
declare -A PID
for m in $MODELS; do
    # shellcheck disable=SC2046
    lm2 train --config configs/reproduction/pretrain-10m.yaml $(variant "$m") --data.shards "$C/shards" \
        --data.tokenizer "$C/tokenizer" --run.out "$W/pretrain/$m" --run.device "$DEV" --run.seed "$SEED" ${STEPS:+--run.steps $STEPS} \
        ${SMOKE:+--model.hidden_size 64 --model.intermediate_size 256 --model.num_attention_heads 4 --run.eval_every 1 --optim.warmup_steps 1} \
        > "$W/logs/pretrain-$m.log" 2>&1 &
    PID[$m]=$!
done
while :; do
    running=0
    for m in $MODELS; do kill -0 "${PID[$m]}" 2>/dev/null && running=1; done
    [ $running = 0 ] && break
    if [ $(( $(date +%s) - T0 )) -ge "$DEADLINE" ]; then
        for m in $MODELS; do kill -0 "${PID[$m]}" 2>/dev/null && { echo "$m stopped at the deadline" >> "$W/stopped.txt"; kill "${PID[$m]}"; }; done
        break
    fi
    sleep 5
done
echo "pretraining ended at $(( $(date +%s) - T0 )) s" >> "$W/machine.txt"

# Held-out perplexity of each finished model at 1k / 4k / 16k (the study's command; larger batches on the GPU).
for m in $MODELS; do
    [ -f "$W/pretrain/$m/model/config.json" ] || continue
    lm2 perplexity "$W/pretrain/$m/model" --text "$C/heldout" --out "$W/perplexity/$m" --contexts "${CONTEXTS:-1k,4k,16k}" \
        --batch-tokens 262144 --device "$DEV" > "$W/logs/perplexity-$m.log" 2>&1 &
done
# The write gates of the LM2s on stage 15's 1k qa1 input (docs/memory.md), when it was carried.
if [ -f "$C/qa1-1k.txt" ]; then
    for m in lm2 lm2-noprice lm2-paper; do
        [ -f "$W/pretrain/$m/model/config.json" ] || continue
        lm2 inspect --model "$W/pretrain/$m/model" --file "$C/qa1-1k.txt" --out "$W/inspect/$m" --max-tokens 1100 \
            > "$W/logs/inspect-$m.log" 2>&1 &
    done
fi
wait
echo "all ended at $(( $(date +%s) - T0 )) s" >> "$W/machine.txt"

# Back: everything but the weights (the 10M models are 40-55 MB each, over what a call returns).
tar czf "$OUT/gpu_study.tar.gz" --exclude='*.safetensors' --exclude='*.pt' -C runs gpu-study
cat "$W/machine.txt"; cat "$W/stopped.txt" 2>/dev/null
for m in $MODELS; do
    printf '%-18s ' "$m"; tail -c 300 "$W/pretrain/$m/metrics.jsonl" 2>/dev/null | tail -1 | cut -c1-150
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('   ppl', {c: round(v['perplexity'], 2) for c, v in d['contexts'].items()})" "$W/perplexity/$m/perplexity.json" 2>/dev/null
done
for m in lm2 lm2-noprice lm2-paper; do [ -f "$W/logs/inspect-$m.log" ] && { echo "$m"; grep -E "^\| [01] |bank row norm" "$W/logs/inspect-$m.log"; }; done
[ "${EVALS:-1}" = 1 ] && for s in 0 1; do python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('vanilla-seed$s', d.get('accuracy'))" "$W/eval/vanilla-seed$s/results.json" 2>/dev/null || tail -3 "$W/logs/eval-vanilla-seed$s.log"; done
exit 0
