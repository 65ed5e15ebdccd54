"""Stage 36 (docs/memory.md): does the reproduction study's ARMT (amendment 23, seed 0, 16 memory tokens, the joint
write) grow its associative matrix A on long inputs? For each of `lm2 demo`'s act-3 qa1 prompts (50 per length,
generated prose as background) the norm of the larger block's A after the prompt, against whether act 3 judged the
answer right (its CSV files). Run `lm2 demo --acts 3` first, from a checkout's root; then

    python results/memory/stage36/study_armt.py [runs/demo/checkpoints/armt]
"""

import csv
import sys
from pathlib import Path

import torch

from lm2.data import load_tokenizer
from lm2.data.babilong import encode_sample
from lm2.evaluation import GeneratedSource
from lm2.integrations.pretrained import load_weights

MODEL = "results/reproduction/amendment23/run-XLBA0/model"


def main() -> None:
    answers = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/demo/checkpoints/armt")
    model, tokenizer = load_weights(MODEL).eval(), load_tokenizer(MODEL)
    for length in ("1k", "4k", "16k"):
        source = GeneratedSource(tokenizer, tasks=["qa1"], lengths=[length], samples=50, seed=0, babi="generate",
                                 haystack="prose")  # fmt: skip
        with open(answers / f"qa1_{length}_instruction_no_examples_no_post_prompt_no.csv") as f:
            rows = list(csv.DictReader(f))
        norms, right = [], []
        for sample, row in zip(source.load("qa1", length), rows, strict=True):
            ids = torch.tensor([encode_sample(tokenizer, sample, with_answer=False)["input_ids"]])
            with torch.no_grad():
                state = model(ids, logits_to_keep=1).memory
            norms.append(state.associative.double().flatten(2).norm(dim=-1).amax().item())
            right.append(row["target"] == row["output"])
        norm, ok = torch.tensor(norms), torch.tensor(right)
        large = norm > 10 * norm.median()
        print(f"{length}: accuracy {ok.double().mean():.2f}; norm median {norm.median():.3g}, "
              f"largest {norm.max():.3g}; samples over 10x the median: {int(large.sum())} of {len(norms)}")  # fmt: skip


if __name__ == "__main__":
    main()
