"""docs/memory.md, stage 35: one step of forward and backward at the study's scale (its LM2 config, batch 32, 1,024
tokens, one thread), the one-step delta write against the ordered write.
Usage: python results/memory/stage35/speed.py"""

import resource
import time

import torch
import yaml

from lm2 import LM2Config, LM2ForCausalLM

with open("results/reproduction/amendment23/run-XLBL0/config.yaml") as f:
    cfgd = yaml.safe_load(f)["model"]
cfgd["vocab_size"] = 2048
torch.set_num_threads(1)
for write in ["delta", "sequential"]:
    torch.manual_seed(0)
    cfg = LM2Config(**{**cfgd, "memory_write": write})
    m = LM2ForCausalLM(cfg)
    ids = torch.randint(4, 2048, (32, 1024))
    t = time.time()
    for _ in range(2):
        out = m(ids, labels=ids)
        out.loss.backward()
    print(
        write,
        "fwd+bwd s/step",
        round((time.time() - t) / 2, 2),
        "maxrss GB",
        round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
        flush=True,
    )
