"""`lm2 retention`: how far back a saved model's answers reach, and how long a fact lasts in its memory.

On BABILong samples of one task at one length (built as `lm2 eval` builds them: bAbI test questions, background
text, the model's tokenizer), two measurements (docs/memory.md, stage 17):

- accuracy by distance: each greedy answer binned by the tokens of the input after the last supporting fact
  (--bins: the bin edges in tokens), with 95 % Wilson intervals, and by the segments between that fact and the
  question (0: in the question's own segment; from 1 on only a memory carries it);
- the fact's trace (models whose memory crosses segments: lm2, rmt, armt): each input beside its counterfactual,
  where the supporting fact names another of the task's labels; the norm of the difference between the two
  memories after each later segment, relative to its norm after the segment holding the swapped word (median
  over the inputs), and for LM2 the share of that difference in the bank row the swapped word wrote.

Writes retention.json (every sample's distance, answer and trace), retention.md and retention.png (both
measurements as pictures) into --out, and prints the tables. --keep-last N reads only the input's last N tokens (the
question after them alone, from a fresh memory): whether the tokens before them are what disturbs the answer. A
folder of another run is refused unless --overwrite.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lm2.cli.common import UsageError, add_cell_options, add_command, add_device_options, check_at_least_one, parse_bins
from lm2.cli.outputs import add_overwrite_option, claim_folder, run_options


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "retention", run, description=__doc__)
    p.add_argument("model", type=Path, metavar="MODEL_DIR", help="model folder (save_pretrained + tokenizer)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for retention.json and .md")
    add_overwrite_option(p)
    add_cell_options(p, samples=100, samples_help="samples")
    p.add_argument("--bins", default="128,256,512", help="distance bin edges in tokens (default 128,256,512)")
    p.add_argument(
        "--keep-last", type=int, metavar="N",
        help="read only the input's last N tokens (a fresh memory N tokens before the question); distances stay "
        "those of the whole input",
    )  # fmt: skip
    p.add_argument("--metric", choices=("fixed", "official"), default="fixed", help="metric mode (default fixed)")
    p.add_argument("--batch-size", type=int, default=16, help="prompts per batch, halved on OOM (default 16)")
    p.add_argument("--max-new-tokens", type=int, default=8, help="answer tokens to decode (default 8)")
    add_device_options(p)


def run(args: argparse.Namespace) -> int:
    import torch

    from lm2.analysis.retention import format_report, measure, plot_retention
    from lm2.evaluation.sources import GeneratedSource
    from lm2.files import write_atomic
    from lm2.integrations.pretrained import load_pretrained

    check_at_least_one(args, "samples", "batch_size", "max_new_tokens", "threads", "keep_last")
    edges = parse_bins(args.bins)
    if "," in args.task or "," in str(args.length):
        raise UsageError(f"--task {args.task!r} --length {args.length!r}: one task and one length per run")
    if not args.model.is_dir():
        raise FileNotFoundError(f"model folder not found: {args.model}")
    if args.threads:
        torch.set_num_threads(args.threads)
    model, tokenizer = load_pretrained(args.model, args.device, args.dtype)
    source = GeneratedSource(
        tokenizer, tasks=args.task, lengths=args.length, samples=args.samples, seed=args.seed, babi=args.babi,
        haystack=args.haystack,
    )  # fmt: skip
    claim_folder(args.out, run_options(args), args.overwrite)
    samples = source.build(source.tasks[0], source.lengths[0])
    result = measure(
        model, tokenizer, samples, edges, args.metric, args.batch_size, args.max_new_tokens, last=args.keep_last
    )
    name = f"{args.model} on {source.tasks[0]} at {source.lengths[0]} tokens (seed {args.seed})"
    report = format_report(result, name)
    record = {"model": str(args.model), "task": source.tasks[0], "length": source.lengths[0],
              "data": source.describe(), "bins": edges, **result}  # fmt: skip
    write_atomic(args.out / "retention.json", json.dumps(record, indent=1) + "\n")
    write_atomic(args.out / "retention.md", report)
    plot_retention(result, args.out / "retention.png", f"{source.tasks[0]} at {source.lengths[0]} tokens")
    print(report)
    print(f"wrote {args.out / 'retention.json'}, {args.out / 'retention.md'} and {args.out / 'retention.png'}")
    return 0
