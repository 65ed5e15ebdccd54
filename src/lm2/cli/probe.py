"""`lm2 probe`: whether the facts of a BABILong qa1 input can be read back from a saved model's memory at all.

`lm2 retention` says whether the model answers a fact and whether the fact's trace is still in its memory; this
trains probes on the memory itself (docs/reproduction.md, amendment 12). Training inputs (--train-samples
BABILong qa1 samples at --length from the bAbI train split, background --train-haystack) run through the model;
after every --every segments (default: a sixteenth of the input) the memory state is one snapshot, labelled with
each named person's latest place.
Two probes learn to answer from the snapshots, each checked on the last fifth of the training inputs:

- linear: per person, a multinomial logistic regression on the standardised, flattened state (L2 weight chosen
  among --l2);
- attention: per person, a learned query reading the memory's rows by softmax attention (a read of LM2's kind
  with weights of its own; kept at its best held-out check of --attention-steps).

Tested on --samples questions built as `lm2 eval` and `lm2 retention` build them (test split, --haystack), on the
state entering the question's segment: the person asked, binned by the tokens after the supporting fact (--bins),
and every person named before that state. Writes probe.json (every answer, and the run's wall_seconds), probe.md,
and prints the tables. A folder of another run is refused unless --overwrite. Models whose memory crosses
segments only (lm2, rmt, armt).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from lm2.cli.common import UsageError, add_cell_options, add_command, add_device_options, check_at_least_one, parse_bins
from lm2.cli.outputs import add_overwrite_option, claim_folder, run_options


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "probe", run, description=__doc__)
    p.add_argument("model", type=Path, metavar="MODEL_DIR", help="model folder (save_pretrained + tokenizer)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for probe.json and probe.md")
    add_overwrite_option(p)
    add_cell_options(p, 200, "test questions", task_help="qa1 only (each fact sets one person's place)")
    p.add_argument("--train-samples", type=int, default=1000, help="training inputs (default 1000)")
    p.add_argument("--train-seed", type=int, default=1, help="seed of the training inputs (default 1)")
    p.add_argument(
        "--train-haystack", metavar="DIR|prose|pg19", help="background of the training inputs (default: --haystack)"
    )
    p.add_argument(
        "--every", type=int, metavar="N",
        help="segments between training snapshots (default: a sixteenth of the input's segments, at least 1)",
    )  # fmt: skip
    p.add_argument("--l2", default="1e-4,1e-3,1e-2,1e-1", help="the linear probe's L2 weights to choose from")
    p.add_argument("--attention-steps", type=int, default=3000, help="the attention probe's training steps")
    p.add_argument("--bins", default="4096,8192,12288", help="distance bin edges in tokens (default 4096,8192,12288)")
    p.add_argument("--batch-size", type=int, default=8, help="inputs run side by side (default 8)")
    add_device_options(p)


def run(args: argparse.Namespace) -> int:
    import torch

    from lm2.analysis.probe import check_task, format_report, measure
    from lm2.analysis.retention import carries_memory
    from lm2.evaluation.sources import GeneratedSource
    from lm2.files import write_atomic
    from lm2.integrations.pretrained import load_pretrained

    check_at_least_one(args, "train_samples", "samples", "every", "attention_steps", "batch_size", "threads")
    edges = parse_bins(args.bins)
    l2s = _weights(args.l2)
    if "," in args.task or "," in str(args.length):
        raise UsageError(f"--task {args.task!r} --length {args.length!r}: one task and one length per run")
    try:
        check_task(args.task)
    except ValueError as error:
        raise UsageError(f"--task: {error}") from None
    if not args.model.is_dir():
        raise FileNotFoundError(f"model folder not found: {args.model}")
    if args.threads:
        torch.set_num_threads(args.threads)
    model, tokenizer = load_pretrained(args.model, args.device, args.dtype)
    if not carries_memory(model):
        raise UsageError(f"MODEL_DIR: arch={model.config.arch!r} carries no memory across segments; nothing to probe")
    if args.every is None:
        from lm2.data.babilong import parse_length

        args.every = max(1, parse_length(args.length) // model.config.segment_length // 16)
    common = {"tasks": args.task, "lengths": args.length, "babi": args.babi}
    test = GeneratedSource(tokenizer, samples=args.samples, seed=args.seed, haystack=args.haystack, **common)
    train = GeneratedSource(
        tokenizer, samples=args.train_samples, seed=args.train_seed, split="train",
        haystack=args.train_haystack or args.haystack, **common,
    )  # fmt: skip
    claim_folder(args.out, run_options(args), args.overwrite)
    task, length = test.tasks[0], test.lengths[0]
    torch.manual_seed(0)
    started = time.perf_counter()
    result = measure(
        model, tokenizer, train.build(task, length), test.build(task, length), edges, args.every, l2s,
        batch_size=args.batch_size, attention_steps=args.attention_steps,
    )  # fmt: skip
    report = format_report(result, f"{args.model} on {task} at {length} tokens (test seed {args.seed})")
    record = {"model": str(args.model), "task": task, "length": length, "bins": edges,
              "data": {"train": train.describe(), "test": test.describe()}, **result,
              "wall_seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    write_atomic(args.out / "probe.json", json.dumps(record, indent=1) + "\n")
    write_atomic(args.out / "probe.md", report)
    print(report)
    print(f"wrote {args.out / 'probe.json'} and {args.out / 'probe.md'}")
    return 0


def _weights(text: str) -> list[float]:
    try:
        weights = [float(item) for item in text.split(",") if item.strip()]
    except ValueError:
        weights = []
    if not weights or any(w < 0 for w in weights):
        raise UsageError(f"--l2={text!r} must be L2 weights of at least 0 like 1e-3,1e-2")
    return weights
