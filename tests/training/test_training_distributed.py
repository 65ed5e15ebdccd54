"""Two processes (torchrun, gloo on CPU) reproduce the single-process run for the same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from tests.training.conftest import tiny_config, to_argv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def losses(out) -> list[float]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line)["loss"] for line in lines if '"loss"' in line]


# fsdp-lm2 covers the single-unit sharding of segmented models (rmt takes the same path), fsdp-vanilla the
# per-block sharding of full attention.
@pytest.mark.parametrize(("strategy", "arch"), [("ddp", "lm2"), ("fsdp", "lm2"), ("fsdp", "vanilla")])
def test_two_processes_reproduce_single_process_trajectory(tmp_path, strategy, arch):
    run = {"steps": 6, "batch_size": 8, "accumulation": 2, "save_every": 0, "distributed": strategy}
    model = {"arch": arch, "segment_length": 32}  # several segments per sample, a different count per rank
    if arch == "lm2":  # the write price rises over the first 24 of 48 sequences, whatever the split
        model["write_penalty_warmup"] = 24
    single, double = tmp_path / "single", tmp_path / "double"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [sys.executable, "-m", "lm2.cli.main", "train", *to_argv(tiny_config(single, run=run, model=model))],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
                "127.0.0.1", "--master_port", str(free_port()), "-m", "lm2.cli.main", "train"]  # fmt: skip
    done = subprocess.run(  # noqa: PLW1510 - the return code is checked below with stderr
        [*launcher, *to_argv(tiny_config(double, run=run, model=model))],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    a, b = losses(single), losses(double)
    assert len(a) == len(b) == 6
    torch.testing.assert_close(torch.tensor(b), torch.tensor(a), rtol=1e-5, atol=1e-5)
    wa, wb = load_file(single / "model" / "model.safetensors"), load_file(double / "model" / "model.safetensors")
    for name in wa:
        torch.testing.assert_close(wb[name], wa[name], rtol=1e-4, atol=1e-5)
