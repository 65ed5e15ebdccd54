"""`lm2 recall`: the synthetic cross-segment recall experiment on CPU in a few minutes.

Trains tiny `lm2`, `rmt`, `vanilla` (full attention) and `vanilla` segmented (no memory) models with the same
backbone and budget on key→value recall across segments, scores them at the training length and on longer
inputs, then streams a long input through the trained LM2 in chunks to show that its state stays bounded.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import torch
from tqdm import tqdm

from lm2.bench.common import parse_ints
from lm2.cli.common import add_command
from lm2.cli.outputs import add_overwrite_option, claim_folder, run_options
from lm2.data.recall import RecallTask
from lm2.device import resolve_device
from lm2.files import write_atomic
from lm2.model import LM2Config
from lm2.model.flops import parameter_counts
from lm2.model.variants import DEFAULT_MODELS, VARIANTS, parse_variants, variant_config
from lm2.training.recall import recall_accuracy, train_recall

# The backbone every variant gets (with the task's vocabulary and segment length); `lm2 demo` act 1 uses it too.
BACKBONE = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_memory_tokens": 4}  # fmt: skip


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "recall", run, description=__doc__)
    p.add_argument("--models", default=",".join(DEFAULT_MODELS), help=f"comma-separated, from {', '.join(VARIANTS)}")
    p.add_argument("--steps", type=int, default=800, help="training steps per model (batch 32)")
    p.add_argument("--segments", type=int, default=3, help="segments per training input")
    p.add_argument(
        "--mixed-segments", default="", help="train on these segment counts in turn (e.g. 2,3,4) instead of --segments"
    )
    p.add_argument("--eval-segments", default="3,6,12", help="input lengths to score, in segments")
    p.add_argument("--segment-length", type=int, default=16)
    p.add_argument("--pairs", type=int, default=1, help="key→value pairs stated in the first segment")
    p.add_argument("--stream-tokens", type=int, default=65536, help="tokens to stream through LM2 (0: skip)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for tiny models)")
    p.add_argument("--device", default="auto", help="torch device: auto (cuda when available, else cpu), cpu, cuda")
    p.add_argument("--out", type=Path, default=Path("runs/recall"), help="where results.json goes")
    add_overwrite_option(p)
    p.add_argument("--quick", action="store_true", help="a smoke run: 60 steps, short stream")


def model_config(name: str, task: RecallTask) -> LM2Config:
    """Model variant `name` on the recall backbone, sized for `task`."""
    return variant_config(name, BACKBONE, vocab_size=task.vocab_size, segment_length=task.segment_length)


def run(args: argparse.Namespace) -> int:
    names = parse_variants(args.models, "--models")
    if args.quick:
        args.steps, args.stream_tokens = 60, min(args.stream_tokens, 4096)
    device = resolve_device(args.device)
    claim_folder(args.out, run_options(args), args.overwrite)
    torch.set_num_threads(args.threads)
    task = RecallTask(segment_length=args.segment_length, segments=args.segments, pairs=args.pairs)
    lengths = parse_ints(args.eval_segments, "--eval-segments")
    mixed = parse_ints(args.mixed_segments, "--mixed-segments") if args.mixed_segments else []
    results = {
        "task": vars(task),
        "steps": args.steps,
        "seed": args.seed,
        "chance": task.chance,
        "models": {},
    }
    trained = {}
    for name in names:
        config = model_config(name, task)
        bar = tqdm(total=args.steps, desc=f"train {name}", unit="step")
        start = time.time()

        def tick(step: int, loss: float, bar: tqdm = bar) -> None:
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{loss:.3f}")

        result = train_recall(
            config, task, args.steps, seed=args.seed, device=device, on_step=tick, curriculum=[mixed] if mixed else []
        )
        bar.close()
        trained[name] = result.model
        results["models"][name] = {
            "parameters": parameter_counts(config)["total"],
            "train_seconds": round(time.time() - start, 1),
            "final_loss": sum(result.losses[-20:]) / len(result.losses[-20:]),
            "accuracy": {str(s): recall_accuracy(result.model, task, segments=s) for s in lengths},
        }
    print_table(results, lengths)
    if args.stream_tokens and "lm2" in trained:
        results["stream"] = stream(trained["lm2"], args.stream_tokens, task)
        s = results["stream"]
        print(
            f"\nstreamed {s['tokens']} tokens through lm2 in chunks of {s['chunk']}: "
            f"{s['tokens_per_s']:.0f} tokens/s, state {s['state_bytes']} bytes, "
            f"peak RSS {s['peak_rss_mib']:.0f} MiB; continuation: {s['continuation']}"
        )
    write_atomic(args.out / "results.json", json.dumps(results, indent=2))
    print(f"\nwrote {args.out / 'results.json'}")
    return 0


def print_table(results: dict, lengths: list[int]) -> None:
    train = results["task"]["segments"]
    head = " | ".join(f"{s} seg{' (train)' if s == train else ''}" for s in lengths)
    print(f"\nrecall accuracy (chance {results['chance']:.3f})\n| model | params | {head} |")
    print("|---|---|" + "---|" * len(lengths))
    for name, r in results["models"].items():
        cells = " | ".join(f"{r['accuracy'][str(s)]:.3f}" for s in lengths)
        print(f"| {name} | {r['parameters']:,} | {cells} |")


@torch.no_grad()
def stream(model, tokens: int, task: RecallTask, chunk: int = 1024) -> dict:
    """Feed `tokens` random tokens in chunks, carrying the state; the state's size does not grow."""
    generator = torch.Generator().manual_seed(7)
    device = next(model.parameters()).device
    state, start = None, time.time()
    for _ in tqdm(range(0, tokens, chunk), desc="stream lm2", unit="chunk"):
        ids = torch.randint(4, task.vocab_size, (1, chunk), generator=generator, device=device)
        state = model(ids, memory=state, logits_to_keep=1).memory
    elapsed = time.time() - start
    prompt = torch.randint(4, task.vocab_size, (1, 8), generator=generator, device=device)
    out = model.generate(prompt, memory=state, max_new_tokens=8, do_sample=False)
    return {
        "tokens": tokens,
        "chunk": chunk,
        "seconds": round(elapsed, 2),
        "tokens_per_s": tokens / elapsed,
        "state_bytes": state.nbytes,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "continuation": out[0, 8:].tolist(),
    }
