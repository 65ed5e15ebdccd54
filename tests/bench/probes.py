"""Functions the isolation tests run in a bench child process (imported there by name)."""

from __future__ import annotations

import time

import torch


def allocate(mib: int, seconds: float = 0.0) -> dict:
    """Hold a `mib` MiB tensor (touched, so resident) for `seconds`."""
    block = torch.ones(mib * 2**18)
    time.sleep(seconds)
    return {"sum": float(block[:10].sum()), "threads": torch.get_num_threads()}


def fail() -> dict:
    raise ValueError("a bug inside the measurement")
