"""`lm2 train`: train a model from a YAML run file with command-line overrides.

    lm2 train --config configs/tiny-cpu-babilong.yaml --run.steps 500 --optim.lr 3e-3

Every field of the run (model, data, curriculum, optim, run) is an option; `--print_config` shows the
merged configuration. Running the same command again in the same `run.out` resumes from the last
checkpoint. Under `torchrun --nproc_per_node N lm2 train ...` the run is distributed (DDP or FSDP2).
"""

from __future__ import annotations

import argparse
import logging
import sys

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train lm2 / rmt / vanilla (BABILong curriculum or language modelling)", add_help=False
    )
    p.set_defaults(func=run, passthrough=True)


def build_parser():
    from jsonargparse import ActionConfigFile, ArgumentParser, set_parsing_settings

    from lm2.training.config import TrainConfig

    set_parsing_settings(docstring_parse_attribute_docstrings=True)
    parser = ArgumentParser(prog="lm2 train", description=__doc__, exit_on_error=True)
    parser.add_argument("--config", action=ActionConfigFile, help="a YAML run file (e.g. configs/*.yaml)")
    parser.add_class_arguments(TrainConfig, as_group=False)
    return parser


def parse_config(argv: list[str]):
    """Command-line words → a `TrainConfig` (unknown keys and wrong types exit with the parser's error)."""
    from lm2.training.config import CurriculumConfig, DataConfig, OptimConfig, RunConfig, TrainConfig

    values = build_parser().parse_args(argv).as_dict()
    return TrainConfig(
        model=dict(values.get("model") or {}),
        data=DataConfig(**values["data"]),
        curriculum=CurriculumConfig(**values["curriculum"]),
        optim=OptimConfig(**{**values["optim"], "betas": tuple(values["optim"]["betas"])}),
        run=RunConfig(**values["run"]),
    )


def run(args: argparse.Namespace) -> int:
    from lm2.training.trainer import Trainer, TrainingDiverged

    config = parse_config(args.args)
    try:
        trainer = Trainer(config)
        result = trainer.fit()
    except ValueError as err:
        print(f"lm2 train: {err}", file=sys.stderr)
        return 2
    except TrainingDiverged as err:
        print(f"lm2 train: {err}", file=sys.stderr)
        return 3
    if result:
        log.info("final validation: %s", result)
    return 0
