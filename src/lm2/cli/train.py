"""`lm2 train`: train a model from a YAML run file with command-line overrides.

    lm2 train --config configs/tiny-cpu-babilong.yaml --run.steps 500 --optim.lr 3e-3

Every field of the run (model, data, curriculum, optim, run) is an option; `--print_config` shows the
merged configuration. The model section holds the fields of `LM2Config`. An unknown key or a value of the
wrong type, in the YAML file or on the command line, stops the command before anything is built (exit 2).
The run writes its resolved configuration to `run.out/config.yaml`. Running the same command again in the
same `run.out` resumes from the last checkpoint; a configuration that would compute something else is
refused, naming the fields; `--init-from DIR` (short for `--run.init_from DIR`) starts a new run from the
weights of a model folder. Ctrl-C or SIGTERM ends the run at the next step with a checkpoint (exit 130).
Under `torchrun --nproc_per_node N lm2 train ...` the run is distributed (DDP or FSDP2).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import signal
import typing
from collections.abc import Iterator
from typing import Any

from lm2.cli.common import COMMANDS, EXIT_INTERRUPTED, UsageError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help=COMMANDS["train"], add_help=False)
    p.set_defaults(func=run, passthrough=True)


def build_parser():
    from jsonargparse import ActionConfigFile, ArgumentParser, set_parsing_settings

    from lm2.training.config import TrainConfig

    set_parsing_settings(docstring_parse_attribute_docstrings=True)
    parser = ArgumentParser(prog="lm2 train", description=__doc__, exit_on_error=False)
    parser.add_argument("--config", action=ActionConfigFile, help="a YAML run file (e.g. configs/*.yaml)")
    parser.add_class_arguments(TrainConfig, as_group=False)
    return parser


def parse_config(argv: list[str]):
    """Command-line words → a `TrainConfig`; an unknown key or a wrong type raises `UsageError` naming the
    key, the value and what is allowed."""
    from lm2.training.config import CurriculumConfig, DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig

    argv = [re.sub(r"^--init-from(?==|$)", "--run.init_from", word) for word in argv]  # the short form
    try:
        values = build_parser().parse_args(argv).as_dict()
    except argparse.ArgumentError as err:
        raise UsageError(describe_parse_error(str(err))) from None
    return TrainConfig(
        model=ModelConfig(**values["model"]),
        data=DataConfig(**values["data"]),
        curriculum=CurriculumConfig(**values["curriculum"]),
        optim=OptimConfig(**{**values["optim"], "betas": tuple(values["optim"]["betas"])}),
        run=RunConfig(**values["run"]),
    )


def describe_parse_error(text: str) -> str:
    """jsonargparse's error → one line: the key, the value and what is allowed (its own words otherwise)."""
    from lm2.training.config import DERIVED_MODEL_FIELDS

    keys = re.findall(r'Parser key "([^"]+)"', text)  # the innermost comes last
    value = re.search(r"Given value: (.*)", text) or re.search(r"Got value: (.*)", text)
    if keys and value and keys[-1] != "config":
        return f"{keys[-1]}={value[1].strip()} has the wrong type; allowed: {_type_name(keys[-1])}"
    if keys == ["config"]:
        return "--config: " + " ".join(text.split(":", 1)[1].split())
    unknown = (
        re.search(r"Group '(\w+)' does not accept (?:nested key|option) '([^']+)'", text)
        or re.search(r"unrecognized arguments: --(\w+)\.([\w.]+)", text)
        or re.search(r"Option '()([^']+)' is not accepted", text)
        or re.search(r"unrecognized arguments: --()(\S+)", text)
    )
    if unknown:
        section, name = unknown.groups()
        where = f"{section}.{name}" if section else name
        if section not in _section_types(""):
            section = ""
        allowed = ", ".join(_section_types(section))
        derived = DERIVED_MODEL_FIELDS.get(name) if section == "model" else None
        moved = f" (it is set by {derived})" if derived else ""
        return f"{where} is not a known key{moved}; allowed {f'in {section}' if section else 'sections'}: {allowed}"
    return " ".join(text.split())


def _section_types(section: str) -> dict[str, Any]:
    """Field → type of `TrainConfig` (`section` "") or of one of its sections ("model", "run", ...)."""
    from lm2.training import config

    hints = typing.get_type_hints(config.TrainConfig, vars(config))
    return typing.get_type_hints(hints[section], vars(config)) if section else hints


def _type_name(key: str) -> str:
    section, _, name = key.rpartition(".")
    try:
        kind = _section_types(section)[name]
    except KeyError:
        return "see lm2 train --help"
    return kind.__name__ if isinstance(kind, type) else str(kind).replace("typing.", "")


def run(args: argparse.Namespace) -> int:
    from lm2.training.trainer import Trainer, TrainingDiverged, TrainingStopped

    config = parse_config(args.args)
    try:
        trainer = Trainer(config)
        with stop_on_signals(trainer):
            result = trainer.fit()
    except TrainingDiverged as err:
        log.error("lm2 train: %s", err)
        return 3
    except TrainingStopped as err:
        log.error("lm2 train: stopped at step %d; checkpoint %s; the same command resumes", err.step, err.checkpoint)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        log.error("lm2 train: interrupted; the run in %s continues from its last checkpoint with the same command",
                  config.run.out)  # fmt: skip
        return EXIT_INTERRUPTED
    if result:
        log.info("final validation: %s", result)
    return 0


@contextlib.contextmanager
def stop_on_signals(trainer) -> Iterator[None]:
    """SIGINT (Ctrl-C) and SIGTERM ask `trainer` to stop at the next step boundary with a checkpoint; a second
    SIGINT stops at once (the last checkpoint stays)."""

    def handler(signum: int, frame) -> None:
        if trainer.stop_requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        trainer.request_stop()
        log.warning("lm2 train: %s: stopping after this step with a checkpoint (Ctrl-C again stops at once)",
                    signal.Signals(signum).name)  # fmt: skip

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
