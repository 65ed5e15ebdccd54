"""A run killed with SIGKILL and restarted with the same command ends with the same weights as an
uninterrupted run (issue 5)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import torch
from safetensors.torch import load_file

from tests.training.conftest import tiny_config, to_argv

STEPS = 40


def command(out) -> list[str]:
    cfg = tiny_config(out, run={"steps": STEPS, "save_every": 5, "keep_last": 3, "eval_every": 20})
    return [sys.executable, "-m", "lm2.cli.main", "train", *to_argv(cfg)]


def test_sigkill_then_restart_matches_uninterrupted_run(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(command(whole), check=True, env=env, capture_output=True)

    proc = subprocess.Popen(command(killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not any(killed.glob("step-*/trainer.pt")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # land somewhere after the first checkpoint, possibly inside a later write
    assert proc.poll() is None, "the run finished before it could be killed; make it longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "model").exists()
    subprocess.run(command(killed), check=True, env=env, capture_output=True)  # same command: resumes

    final_whole = load_file(whole / "model" / "model.safetensors")
    final_killed = load_file(killed / "model" / "model.safetensors")
    assert final_whole.keys() == final_killed.keys()
    for name in final_whole:
        torch.testing.assert_close(final_killed[name], final_whole[name], rtol=0, atol=1e-6)
    resumed_steps = [line for line in (killed / "metrics.jsonl").read_text().splitlines() if '"loss"' in line]
    assert len(resumed_steps) == STEPS  # metrics past the checkpoint were rewritten, not duplicated
