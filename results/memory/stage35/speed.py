"""docs/memory.md, stage 35: one step of forward and backward at the study's scale (its LM2 config, batch 32, 1,024
tokens, one thread, mean of 2 steps after one warm-up): the one-step delta write, the ordered write in chunks of 16
writes (the library's), and the ordered write as one triangular system per segment.
Usage: python results/memory/stage35/speed.py"""

import time

import torch
import yaml

from lm2 import LM2Config, LM2ForCausalLM
from lm2.model import memory

with open("results/reproduction/amendment23/run-XLBL0/config.yaml") as f:
    fields = {**yaml.safe_load(f)["model"], "vocab_size": 2048}
torch.set_num_threads(1)
chunk = memory.apply_ordered_writes.__defaults__
for name, write, writes_per_chunk in [("delta", "delta", None), ("sequential, chunks of 16", "sequential", 16),
                                       ("sequential, one system per segment", "sequential", 10_000)]:  # fmt: skip
    if writes_per_chunk is not None:
        memory.apply_ordered_writes.__defaults__ = (writes_per_chunk,)
    torch.manual_seed(0)
    model = LM2ForCausalLM(LM2Config(**{**fields, "memory_write": write}))
    ids = torch.randint(4, 2048, (32, 1024))
    times = []
    for _ in range(3):
        start = time.time()
        model(ids, labels=ids).loss.backward()
        times.append(time.time() - start)
    print(f"{name}: {sum(times[1:]) / 2:.2f} s per step (forward and backward)", flush=True)
memory.apply_ordered_writes.__defaults__ = chunk
