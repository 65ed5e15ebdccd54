"""`lm2 reproduce`: the reproduction study, end to end, resumable (docs/reproduction.md).

Splits the dev books (three held out), trains the tokenizer and tokenizes the pretraining books, pretrains
every model as a language model (configs/reproduction/pretrain.yaml), measures held-out perplexity at 1k, 4k
and 16k tokens of context, fine-tunes every pretrained model on each BABILong task with a curriculum over
segments, once per seed (configs/reproduction/finetune-<task>.yaml), evaluates every fine-tuned model on the
bAbI test split at every length (background from the held-out books), and writes the report. Every command
it runs is an `lm2` command, logged in RESULTS/runs.jsonl with its times and machine. Killed and started
again, it continues: finished stages are skipped and unfinished trainings resume from their checkpoints.
`--stages` runs a part (e.g. `--stages report`); `--models`, `--seeds`, `--lengths` narrow or widen it.
A later fine-tuning round names its run files and runs with `--finetune NAME` (configs/reproduction/
NAME-<task>.yaml), keeps its results apart with `--results`, and starts from the shipped pretrained models
with `--pretrained DIR` (docs/reproduction.md, "Round 2").
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from lm2.cli.common import EXIT_INTERRUPTED, UsageError, add_command

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "reproduce", run, description=__doc__)
    p.add_argument("--runs", type=Path, default=Path("runs/reproduction"), help="working folder (checkpoints, logs)")
    p.add_argument("--results", type=Path, default=Path("results/reproduction"), help="what the study keeps")
    p.add_argument("--data", type=Path, default=None, help="folder holding babi/ and haystack/dev/ "
                   "(default: $LM2_DATA_DIR, else ../shared/data)")  # fmt: skip
    p.add_argument("--configs", type=Path, default=Path("configs/reproduction"), help="the study's run files")
    p.add_argument("--models", default="lm2,rmt,armt,vanilla,lm2-paper,vanilla-segmented", help="model variants")
    p.add_argument("--seeds", default="0,1", help="fine-tuning seeds")
    p.add_argument("--tasks", default="qa1", help="BABILong tasks (one fine-tuned model per task)")
    p.add_argument("--lengths", default="0k,1k,2k,4k,8k,16k,32k,64k", help="evaluation lengths")
    p.add_argument("--samples", type=int, default=100, help="test samples per cell")
    p.add_argument("--contexts", default="1k,4k,16k", help="perplexity context lengths")
    p.add_argument("--full-attention-tokens", type=int, default=16_500,
                   help="longest evaluation prompt for full attention (longer cells: OOM, not run)")  # fmt: skip
    p.add_argument("--workers", type=int, default=2, help="commands run at once (one CPU thread each)")
    p.add_argument("--stages", default="all", help="comma-separated stages, or all")
    p.add_argument("--finetune", default="finetune", metavar="NAME", help="the fine-tuning round: run files "
                   "CONFIGS/NAME-<task>.yaml, runs under RUNS/NAME/ (give each round its own --results)")  # fmt: skip
    p.add_argument("--pretrained", type=Path, default=None, metavar="DIR", help="start fine-tuning from shipped "
                   "pretrained models (DIR/<model>/model, e.g. results/reproduction/models/pretrained): the data "
                   "and pretrain stages do nothing")  # fmt: skip
    p.add_argument("--train-args", default="", help="extra `lm2 train` options for every training, e.g. "
                   "'--run.steps 20' for a smoke test")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from lm2.data.paths import data_dir
    from lm2.evaluation.study import STAGES, StudyPlan, run_study

    stages = list(STAGES) if args.stages == "all" else [s.strip() for s in args.stages.split(",") if s.strip()]
    try:
        seeds = tuple(int(s) for s in args.seeds.split(","))
    except ValueError:
        raise UsageError(f"--seeds={args.seeds!r} must be comma-separated integers, e.g. 0,1") from None
    data = args.data or data_dir()
    if data is None:
        raise UsageError("--data: the shared data folder was not found ($LM2_DATA_DIR unset and no ../shared/data "
                         "beside the repository); pass the folder holding babi/ and haystack/dev/")  # fmt: skip
    plan = StudyPlan(runs=args.runs, results=args.results, data=Path(data), configs=args.configs,
                     models=tuple(args.models.split(",")), seeds=seeds, tasks=tuple(args.tasks.split(",")),
                     lengths=tuple(args.lengths.split(",")), samples=args.samples,
                     contexts=tuple(args.contexts.split(",")), full_attention_tokens=args.full_attention_tokens,
                     workers=args.workers, train_args=tuple(args.train_args.split()), finetune=args.finetune,
                     pretrained_from=args.pretrained)  # fmt: skip
    try:
        run_study(plan, stages, say=lambda line: print(line, flush=True))
    except KeyboardInterrupt:  # the running commands save what they finished (a training: a checkpoint)
        logger.error("lm2 reproduce: interrupted; finished work is kept under %s and %s: the same command "
                     "continues", args.runs, args.results)  # fmt: skip
        return EXIT_INTERRUPTED
    return 0
