"""Resuming a run exactly, or not at all.

A `run.out` that holds checkpoints is continued from the newest one, and the continuation must be the run
that wrote it: the configuration saved in the checkpoint is compared with the new one, and any difference
that changes what the run computes — the model, the data, the curriculum, the optimiser and its schedule,
the seed, the precision, the number of steps — stops the run, naming the fields. Fields that only change
how the run goes (`HOW_FIELDS`: where it writes, threads, logging, checkpoint cadence, device, compilation,
accumulation) may differ; so may the validation settings while validation does not move the curriculum.
A new run from the weights is `run.init_from` (`lm2 train --init-from DIR`).

`config.yaml` in `run.out` is the resolved configuration of the run, readable and usable as
`lm2 train --config run.out/config.yaml`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import yaml

from lm2.files import differences, write_atomic

from .config import TrainConfig

CONFIG_FILE = "config.yaml"
HOW_FIELDS = frozenset({
    "run.out", "run.threads", "run.progress", "run.tensorboard", "run.log_every", "run.save_every",
    "run.keep_last", "run.device", "run.compile", "run.distributed", "run.segment_checkpointing",
    "run.accumulation",
})  # fmt: skip
# Free to change unless validation decides when the curriculum advances (`curriculum.advance: accuracy`).
VALIDATION_FIELDS = frozenset({"run.eval_every", "data.validation_samples", "data.validation_lengths"})


def plain(config: TrainConfig) -> dict:
    """The configuration as plain JSON values (tuples as lists), as saved and compared."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def trajectory_changes(saved: dict, config: TrainConfig) -> list[tuple[str, object, object]]:
    """(field, saved value, new value) for every difference that would change what the run computes."""
    new = plain(config)
    steps_only = saved.get("curriculum", {}).get("advance") == new["curriculum"]["advance"] == "steps"
    free = HOW_FIELDS | (VALIDATION_FIELDS if steps_only else frozenset())
    return [change for change in differences(json.loads(json.dumps(saved)), new) if change[0] not in free]


def check_resume(checkpoint: Path, saved: dict | None, config: TrainConfig) -> None:
    """`ValueError` naming the fields when `config` would not continue the run of `checkpoint` (whose saved
    configuration is `saved`; None for a checkpoint that has none)."""
    if saved is None:
        raise ValueError(f"{checkpoint} has no saved configuration to compare with; use another run.out")
    changed = trajectory_changes(saved, config)
    if not changed:
        return
    shown = "; ".join(f"{key}: {old!r} in the run, {new!r} now" for key, old, new in changed[:5])
    more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
    raise ValueError(
        f"run.out={config.run.out} holds a run that this configuration would not continue ({shown}{more}): a "
        f"resumed run must be the run it continues. Resume it with its own configuration "
        f"({Path(config.run.out) / CONFIG_FILE}), or start a new run in another run.out from its weights "
        f"with --init-from {checkpoint}"
    )


class _Dumper(yaml.SafeDumper):
    """One field a line; lists on the field's line (`segments: [0, 1]`)."""


_Dumper.add_representer(list, lambda dumper, v: dumper.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))


def write_config(out: Path, config: TrainConfig) -> Path:
    """`out/config.yaml`: the resolved configuration, written atomically."""
    out.mkdir(parents=True, exist_ok=True)
    text = "# The resolved configuration of this run (lm2 train --config this file resumes it).\n"
    text += yaml.dump(plain(config), Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)
    write_atomic(out / CONFIG_FILE, text)
    return out / CONFIG_FILE
