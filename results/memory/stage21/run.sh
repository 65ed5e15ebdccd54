#!/bin/bash
# Stage 21 (docs/memory.md): the default with a learned per-channel centring of the first memory block's read
# (memory_read_center_fraction=0.0) on the demo's act 2 (R1), seeds 0 and 1 side by side, lm2 retention at 1,024
# tokens (act2_variant.sh), and the α each seed learned (alpha.txt).
set -e
M=lm2-hard-floor-write0.1-warm-center-learned
one() {
  results/memory/act2_variant.sh stage21 $M $1
  python - runs/stage21/seed$1/babilong/train/$M/model > results/memory/stage21/seed$1/alpha.txt <<'PY'
import sys
from lm2 import LM2ForCausalLM
model = LM2ForCausalLM.from_pretrained(sys.argv[1])
alpha = next(layer.memory.center_fraction for layer in model.model.layers if layer.memory is not None).detach()
print(f"alpha over {alpha.numel()} channels: mean {alpha.mean():.4f}, min {alpha.min():.4f}, max {alpha.max():.4f},"
      f" |alpha| mean {alpha.abs().mean():.4f}")
PY
}
one 0 &
one 1
wait
