#!/bin/bash
# Stage 23 (docs/memory.md): how much of block 0's read goes to the rows' mean (the split read's last column) on stage
# 18b's qa1 inputs at 128 and 1,024 tokens, for each seed's act-2 model (after run.sh): lm2 inspect's trace of each
# input, then block 0's weight on the mean in the second segment (the first to read a written bank) and in the last.
set -e
M=lm2-hard-floor-write0.1-warm-center-split
for seed in 0 1; do
  for length in 128 1024; do
    for i in 0 1 2 3 4; do
      lm2 inspect --model runs/stage23/seed$seed/babilong/train/$M/model --file runs/stage18b/qa1-$length-$i.txt \
          --out runs/stage23/inspect/seed$seed-$length-$i --max-tokens 2048 --overwrite \
          > results/memory/stage23/inspect-seed$seed-$length-$i.txt
    done
    python - $seed $length <<'PY'
import sys
import torch
from lm2.analysis.inspect import MemoryTrace
seed, length = sys.argv[1:]
reads = [MemoryTrace.load(f"runs/stage23/inspect/seed{seed}-{length}-{i}/trace.pt").read[0, 0, :, -1] for i in range(5)]
second, last = torch.cat([r[16:32] for r in reads]).mean(), torch.cat([r[-16:] for r in reads]).mean()
print(f"seed {seed}, {length} tokens: block 0's read weight on the rows' mean {second:.3f} in segment 2, {last:.3f} in "
      f"the last segment (5 inputs, tokens and heads averaged; uniform over 17 rows: {1 / 17:.3f})")
PY
  done
done
