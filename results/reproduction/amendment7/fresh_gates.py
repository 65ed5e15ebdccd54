"""docs/reproduction.md, amendment 7: the share of input-gate channels exactly shut in a freshly initialised model of
(P)'s config (seeds 0 and 1), on stage 15's 1k input (built as the amendment's commands build it); amendment 8: the
same for the 10M-parameter LM2 (its config.json's folder as MODEL).
Usage: python results/reproduction/amendment7/fresh_gates.py INPUT.txt [MODEL]"""

import sys
from pathlib import Path

import torch

from lm2.analysis.inspect import record_memory
from lm2.data.tokenizer import load_tokenizer
from lm2.model import LM2Config, LM2ForCausalLM

TOKENIZER = "results/reproduction/amendment7/pretrain/model"  # the study's tokenizer, which every model shares
MODEL = sys.argv[2] if len(sys.argv) > 2 else TOKENIZER
config, tokenizer = LM2Config.from_pretrained(MODEL), load_tokenizer(TOKENIZER)
ids = torch.tensor([tokenizer(Path(sys.argv[1]).read_text())["input_ids"][:1100]])  # lm2 inspect's --max-tokens 1100
for seed in (0, 1):
    torch.manual_seed(seed)
    with torch.no_grad():
        trace = record_memory(LM2ForCausalLM(config).eval(), ids)
    shut = [round(100 * float(trace.gate_in_shut[j, 0].mean()), 1) for j in range(trace.gate_in_shut.shape[0])]
    g_in = [round(float(trace.gate_in[j, 0].mean()), 3) for j in range(trace.gate_in.shape[0])]
    print(f"seed {seed}: shut {shut} %, mean g_in {g_in}")
