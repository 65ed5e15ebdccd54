"""Jobs in worker processes: results come back, a failure stops the command with the worker's traceback."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from lm2.cli import jobs
from lm2.cli.jobs import run_jobs
from lm2.fork_server import fork_context


def failing_job(on_step):
    on_step(1, 0.5)
    raise RuntimeError("boom in the worker")


def echo_job(value, on_step):
    on_step(1, 0.1)
    return value * 2


def test_worker_results_and_failures_reach_the_parent():
    assert run_jobs({"a": (echo_job, {"value": 2}), "b": (echo_job, {"value": 5})}, {"a": 1, "b": 1}, 2, "lm2 x") == {
        "a": 4,
        "b": 10,
    }
    with pytest.raises(SystemExit, match="lm2 x: the bad job failed:(.|\n)*boom in the worker"):
        run_jobs({"bad": (failing_job, {})}, {"bad": 1}, 1, "lm2 x")


def where_job(on_step):
    on_step(1, 0.0)
    return {"parent": os.getppid(), "folder": os.getcwd(), "setting": os.environ.get("LM2_TEST_SETTING")}


def test_workers_are_forks_of_the_fork_server_with_this_process_environment_and_folder(tmp_path, monkeypatch):
    """Workers start from lm2's fork server (not a fresh interpreter that imports torch again), yet each sees
    the environment and folder the command has when it starts the job, not those the server started with."""
    run_jobs({"warm": (where_job, {})}, {"warm": 1}, 1, "lm2 x")  # the server now runs, started from here
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LM2_TEST_SETTING", "later")
    seen = run_jobs({"a": (where_job, {})}, {"a": 1}, 1, "lm2 x")["a"]
    assert seen["parent"] != os.getpid() and Path(seen["folder"]) == tmp_path and seen["setting"] == "later"


def training_job(on_step):
    """A few steps of a tiny LM2 on recall: every loss and the trained weights, as exact float64 numbers."""
    from lm2 import LM2Config
    from lm2.data.recall import RecallTask
    from lm2.training.recall import train_recall

    config = LM2Config(arch="lm2", vocab_size=32, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, segment_length=8)  # fmt: skip
    run = train_recall(config, RecallTask(vocab_size=32, segment_length=8, segments=3, pairs=1), steps=12, seed=3)
    return run.losses, [float(p.double().sum()) for p in run.model.parameters()]


def test_a_forked_worker_trains_exactly_as_a_spawned_one(monkeypatch):
    """What the fork server imported (and any state that import left) does not change a worker's numbers:
    the same training in a worker forked from it and in a freshly spawned one gives the same losses and weights,
    equal bit for bit (one thread each, one machine, the same code path: only how the process started differs)."""
    forked = run_jobs({"t": (training_job, {})}, {"t": 12}, 1, "lm2 x")["t"]
    monkeypatch.setattr(jobs, "fork_context", lambda: multiprocessing.get_context("spawn"))
    spawned = run_jobs({"t": (training_job, {})}, {"t": 12}, 1, "lm2 x")["t"]
    assert forked == spawned


def test_where_there_is_no_fork_server_workers_are_spawned(monkeypatch):
    """Windows has no fork server: the workers are then spawned (each imports torch itself), not refused."""
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert fork_context.__wrapped__().get_start_method() == "spawn"
