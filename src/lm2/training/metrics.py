"""A run's metrics: `metrics.jsonl` (one JSON line per log interval, validation and curriculum stage; rank 0
only) and, when asked, TensorBoard event files. A resumed run first drops the lines after its checkpoint,
which it redoes."""

from __future__ import annotations

import json
import math
from pathlib import Path

from lm2.files import write_atomic


class Metrics:
    """metrics.jsonl always (rank 0), TensorBoard when asked."""

    def __init__(self, out: Path, main: bool, tensorboard: bool, keep_until: int) -> None:
        self.main, self.writer = main, None
        if not main:
            return
        out.mkdir(parents=True, exist_ok=True)
        path = out / "metrics.jsonl"
        if path.exists():  # a resumed run redoes the steps after its checkpoint: drop their old lines
            kept = [line for line in path.read_text().splitlines() if step_of(line) <= keep_until]
            write_atomic(path, "".join(line + "\n" for line in kept))
        self.file = open(path, "a")  # noqa: SIM115 - closed in close()
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(out / "tensorboard")

    def write(self, record: dict) -> None:
        if not self.main:
            return
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        if self.writer is not None:
            flat = record.get("eval", record)
            for key, value in _flatten(flat).items():
                if isinstance(value, int | float) and key != "step":
                    self.writer.add_scalar(key, value, record["step"])

    def close(self) -> None:
        if self.main:
            self.file.close()
            if self.writer is not None:
                self.writer.close()


def step_of(line: str) -> float:
    """The step of a metrics line; a line cut short by a crash counts as after every checkpoint."""
    try:
        return json.loads(line).get("step", 0)
    except json.JSONDecodeError:
        return math.inf


def _flatten(record: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}/"))
        else:
            flat[prefix + key] = value
    return flat
