"""scripts/park_runs.py: a run stopped at a checkpoint, parked, and unparked into a fresh checkout (no runs/)
resumes to the weights of the uninterrupted run."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lm2.training.checkpoint import latest_checkpoint
from lm2.training.trainer import Trainer
from tests.training.conftest import tiny_config
from tests.training.test_training_shards import Killed, kill_at

SCRIPT = Path(__file__).parents[2] / "scripts" / "park_runs.py"
RUN = {"steps": 4, "save_every": 2}


def load_script():
    spec = importlib.util.spec_from_file_location("park_runs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_parked_run_resumes_in_a_new_checkout_to_the_uninterrupted_weights(tmp_path):
    script = load_script()
    runs, parked = tmp_path / "runs", tmp_path / "results" / "parked"
    Trainer(tiny_config(tmp_path / "whole", run=RUN)).fit()
    stopped = runs / "study" / "A0"
    with pytest.raises(Killed):
        Trainer(tiny_config(stopped, run=RUN), on_step=kill_at(3)).fit()  # after the step-2 checkpoint

    assert script.park(stopped, runs, parked) == parked / "study" / "A0"
    shutil.rmtree(runs)  # the next checkout has no runs/
    assert script.unpark(runs, parked) == [(stopped, "restored at step-00000002")]
    resumed = Trainer(tiny_config(stopped, run=RUN))
    assert resumed.step == 2
    resumed.fit()
    whole, killed = (load_file(p / "model" / "model.safetensors") for p in (tmp_path / "whole", stopped))
    for name in whole:
        torch.testing.assert_close(killed[name], whole[name], rtol=1e-5, atol=1e-6)

    # a later checkpoint in runs/ is never replaced by an older parked one
    assert script.unpark(runs, parked) == [(stopped, "kept: it holds step-00000004, the parked copy step-00000002")]
    assert latest_checkpoint(stopped).name == "step-00000004"


def test_park_refuses_a_run_outside_runs_or_without_a_checkpoint(tmp_path):
    script = load_script()
    runs, parked = tmp_path / "runs", tmp_path / "parked"
    (runs / "empty").mkdir(parents=True)
    with pytest.raises(SystemExit, match="holds no complete checkpoint"):
        script.park(runs / "empty", runs, parked)
    with pytest.raises(SystemExit, match="is not under"):
        script.park(tmp_path, runs, parked)
    assert not parked.exists()
