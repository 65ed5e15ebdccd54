"""docs/reproduction.md, amendment 8, and docs/gpu.md: why the study's models are launch-bound. For round 2's seed-0
models of LM2, the paper's LM2, RMT and ARMT: the top-level aten operations of one forward and backward pass per
64-token segment (torch's profiler, batch 32, the difference between 4 and 2 segments), and the seconds per training
step of round 2's run file at 16 segments, batch 1 and 32, one thread (10 steps after 2; after `lm2 reproduce
--stages books` has split the books). Usage: python results/reproduction/amendment8/launch_cost.py"""

import json
import subprocess
import tempfile
from pathlib import Path

import torch

from lm2.evaluation.study import variant_args
from lm2.model import LM2ForCausalLM

torch.set_num_threads(1)
MODELS = Path("results/reproduction/round2/models/qa1")


def operations(model: LM2ForCausalLM, segments: int) -> int:
    ids = torch.randint(0, model.config.vocab_size, (32, 64 * segments))
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        model(input_ids=ids, labels=ids).loss.backward()
    return sum(e.name.startswith("aten::") and not (e.cpu_parent and e.cpu_parent.name.startswith("aten::"))
               for e in prof.events())  # fmt: skip


def seconds_per_step(name: str, folder: Path, batch: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(["lm2", "train", "--config", "configs/reproduction/round2-qa1.yaml", *variant_args(name),
                        "--init-from", folder, "--data.tokenizer", folder, "--data.haystack",
                        "runs/reproduction/books/pretrain", "--run.steps", "12", "--run.out", f"{out}/run",
                        "--run.batch_size", str(batch), "--curriculum.segments", "16", "--curriculum.max_facts", "0",
                        "--curriculum.stage_steps", "0", "--curriculum.draw_segments", "false", "--run.eval_every", "0",
                        "--run.log_every", "2", "--optim.warmup_steps", "2", "--data.generated_questions", "2000",
                        "--run.threads", "1"], check=True, capture_output=True)  # fmt: skip
        rows = [json.loads(line) for line in Path(out, "run", "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "loss" in r and "eval" not in r]
    return (rows[-1]["time"] - rows[0]["time"]) / (rows[-1]["step"] - rows[0]["step"])


for name in ("lm2", "lm2-paper", "rmt", "armt"):
    folder = MODELS / f"{name}-seed0" / "model"
    model = LM2ForCausalLM.from_pretrained(folder)
    per_segment = (operations(model, 4) - operations(model, 2)) / 2
    steps = [round(seconds_per_step(name, folder, b), 3) for b in (1, 32)]
    print(
        f"{name}: {per_segment:.0f} operations per segment; {steps[0]} / {steps[1]} s per 16-segment step, batch 1 / 32"
    )
