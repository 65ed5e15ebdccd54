#!/usr/bin/env bash
# docs/reproduction.md, "qa2 and qa3": seconds per step of round 2's run files at 0k on whole stories, from the shipped
# pretrained lm2, one thread, 40 steps each (after `lm2 reproduce --stages books` has split the books).
set -euo pipefail
P=results/reproduction/models/pretrained/lm2/model
for task in qa1 qa2 qa3; do
    out=$(mktemp -d)
    lm2 train --config configs/reproduction/round2-$task.yaml --init-from $P --data.tokenizer $P \
        --data.haystack runs/reproduction/books/pretrain --run.steps 40 --run.out "$out/run" \
        --curriculum.max_facts 0,0,0,0,0,0,0,0,0 --run.eval_every 0 --run.log_every 10 --optim.warmup_steps 10 \
        --data.generated_questions 2000 > "$out/log" 2>&1
    python - "$task" "$out/run/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[2]) if '"loss"' in line and '"eval"' not in line]
print(sys.argv[1], round((rows[-1]["time"] - rows[0]["time"]) / (rows[-1]["step"] - rows[0]["step"]), 3), "s per step")
PY
    rm -rf "$out"
done
