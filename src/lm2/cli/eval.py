"""`lm2 eval`: a saved model on BABILong, per task × length, with the metric, baselines and heatmap.

The samples come from a folder in the official layout (`--data DIR`: DIR/qaN/<length>.json, ours or the
BABILong release) or are built like `lm2 data babilong` builds them (`--tasks`, `--lengths`, `--samples`,
`--seed`, bAbI test questions, background text; lengths count tokens of the model's tokenizer; with
`--every-person`, each qa1 input asked about every person of its story). Answers are decoded greedily after
`<s> {input} {question} <ans>` in batches, with the model's cache.

OUT gets, per cell, `<task>_<length>_instruction_no_examples_no_post_prompt_no.csv` (target,output,question:
BABILong's results layout), plus `results.json` (accuracy matrix, per-cell baselines and timings, run
metadata) and `heatmap.png`. Running the same command again skips the finished cells; an OUT holding
another evaluation is refused. Out-of-memory cells are reported as OOM, not fatal. See docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from lm2.cli.common import UsageError, add_command, add_device_options, check_at_least_one, resumable

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "eval", run_eval, description=__doc__)
    p.add_argument("model", type=Path, metavar="MODEL_DIR", help="model folder (save_pretrained + tokenizer)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (resumed if it exists)")
    data = p.add_argument_group("samples: a BABILong folder, or the generation recipe of `lm2 data babilong`")
    data.add_argument("--data", type=Path, metavar="DIR", help="folder in the layout DIR/qaN/<length>.json")
    data.add_argument("--tasks", help="comma-separated tasks or 'all' (default: qa1..qa5; with --data: all found)")
    data.add_argument("--lengths", help="comma-separated lengths, e.g. 0k,1k,4k (default: 0k,1k,2k,4k; --data: all)")
    data.add_argument("--samples", type=int, help="samples per cell (default 100; with --data: all in the file)")
    data.add_argument("--seed", type=int, help="seed of the question choice and background (default 0)")
    data.add_argument("--every-person", action="store_true",
                      help="qa1: ask each input about every person its story names (its own question among them) "
                           "and report the person-blind bound: what one answer per input, whoever is asked, can "
                           "score")  # fmt: skip
    babi = data.add_mutually_exclusive_group()
    babi.add_argument("--babi", metavar="DIR", help="bAbI v1.2 folder (default: <data dir>/babi); "
                      "'generate' and 'download' mean --generate and --download, as in lm2 ablate")  # fmt: skip
    babi.add_argument("--download", action="store_true", help="the official bAbI archive, checksum-verified")
    babi.add_argument("--generate", action="store_true", help="the offline bAbI generator")
    hay = data.add_mutually_exclusive_group()
    hay.add_argument("--haystack", default="prose", metavar="DIR|prose", help="background text (default: prose)")
    hay.add_argument("--pg19", nargs="?", const="hub", metavar="PATH", help="PG19 test books (a saved copy or Hub)")
    run = p.add_argument_group("decoding")
    run.add_argument("--metric", choices=("fixed", "official"), default="fixed", help="metric mode (default fixed)")
    run.add_argument("--batch-size", type=int, default=16, help="prompts per batch, halved on OOM (default 16)")
    run.add_argument("--max-new-tokens", type=int, default=8, help="answer tokens to decode (default 8)")
    run.add_argument(
        "--max-tokens", type=int, help="full-attention models: cells with longer prompts are reported as OOM, unrun"
    )
    add_device_options(run)


@resumable
def run_eval(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from lm2.evaluation import evaluate, format_summary
    from lm2.integrations.pretrained import load_pretrained

    _check_args(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    model, tokenizer = load_pretrained(args.model, args.device, args.dtype)
    source = _source(args, tokenizer)
    cells = len(source.tasks) * len(source.lengths)
    with logging_redirect_tqdm(), tqdm(total=cells, unit="cell", desc="eval") as bar:

        def on_batch(task: str, length: str, done: int, total: int) -> None:
            bar.set_postfix_str(f"{task} {length} {done}/{total} samples")

        def on_cell(task: str, length: str, record: dict, skipped: bool) -> None:
            shown = "OOM" if record["accuracy"] is None else f"{100 * record['accuracy']:.1f}%"
            bar.set_postfix_str(f"{task} {length} {shown}{' (done before)' if skipped else ''}")
            bar.update()

        results = evaluate(
            model, tokenizer, source, args.out, metric=args.metric, batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens, max_tokens=args.max_tokens, model_path=args.model,
            on_cell=on_cell, on_batch=on_batch,
        )  # fmt: skip
    print(format_summary(results))
    print(f"\nwrote {args.out / 'results.json'}, {args.out / 'heatmap.png'} and one CSV per cell")
    return 0


def _check_args(args: argparse.Namespace) -> None:
    if not args.model.is_dir():
        raise FileNotFoundError(f"model folder not found: {args.model}")
    check_at_least_one(args, "batch_size", "max_new_tokens", "max_tokens", "samples", "threads")
    if args.data is not None:
        options = ("seed", "babi", "download", "generate", "pg19", "every_person")
        spec = [f"--{n.replace('_', '-')}" for n in options if getattr(args, n) not in (None, False)]
        spec += ["--haystack"] if args.haystack != "prose" else []
        if spec:
            raise UsageError(f"--data reads the samples from a folder; {', '.join(spec)} only apply to generation")


def _source(args: argparse.Namespace, tokenizer):
    from lm2.evaluation.sources import DEFAULT_LENGTHS, DEFAULT_TASKS, FolderSource, GeneratedSource

    if args.data is not None:
        return FolderSource(args.data, args.tasks, args.lengths, args.samples)
    babi = "generate" if args.generate else "download" if args.download else args.babi
    haystack = args.haystack if args.pg19 is None else "pg19" if args.pg19 == "hub" else f"pg19:{args.pg19}"
    return GeneratedSource(
        tokenizer,
        tasks=args.tasks or DEFAULT_TASKS,
        lengths=args.lengths or DEFAULT_LENGTHS,
        samples=100 if args.samples is None else args.samples,
        seed=0 if args.seed is None else args.seed,
        babi=babi,
        haystack=haystack,
        every_person=args.every_person,
    )
