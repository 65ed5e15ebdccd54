"""Jobs in worker processes: results come back, a failure stops the command with the worker's traceback."""

from __future__ import annotations

import pytest

from lm2.cli.jobs import run_jobs


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
