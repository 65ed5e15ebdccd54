"""`lm2 demo --quick` end to end: all three acts, their files, resume, and failures of a worker."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from lm2.cli.demo import run_jobs
from lm2.cli.main import main
from tests.integrations.tiny_checkpoint import save_tiny_checkpoint

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_main_job_is_lm2_demo():
    """The README's first command installs and runs `lm2 demo`: the command the next test runs (quick)."""
    commands = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    assert commands and commands[0].strip() == "pip install torch==2.13.0 && pip install -e . && lm2 demo"


def test_demo_quick_runs_all_acts_and_resumes(tmp_path, capsys):
    shipped = tmp_path / "shipped"
    save_tiny_checkpoint(shipped / "lm2" / "model", dtype=torch.float32)
    out = tmp_path / "demo"
    argv = ["demo", "--quick", "--out", str(out), "--checkpoints", str(shipped)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    for needle in ("[1/3] cross-segment recall", "[2/3] BABILong", "[3/3] shipped checkpoints", "chance"):
        assert needle in printed
    summary = json.loads((out / "summary.json").read_text())
    names = ["lm2", "rmt", "vanilla", "vanilla-segmented"]
    assert list(summary["recall"]["models"]) == names
    for name in names:
        accuracy = summary["recall"]["models"][name]["accuracy"]
        assert set(accuracy) == {"4", "8", "16"} and all(0 <= v <= 1 for v in accuracy.values())
        results = json.loads((out / "babilong" / "eval" / name / "results.json").read_text())
        assert list(results["cells"]["qa1"]) == ["0k", "128", "256"]
        assert (out / "babilong" / "train" / name / "model" / "model.safetensors").exists()
    for picture in ("comparison.png", "training_curves.png"):
        assert (out / "babilong" / picture).stat().st_size > 1000
    assert "| 128 | lm2 |" in (out / "babilong" / "comparison.md").read_text()
    assert json.loads((out / "checkpoints" / "lm2" / "results.json").read_text())["cells"]["qa1"]["1k"]

    # Started again, the demo reuses every finished training and evaluation cell: same results.
    before = {p: p.read_text() for p in out.rglob("results.json")}
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("model.safetensors")}
    assert main(argv) == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("model.safetensors")} == mtimes
    for path, text in before.items():
        if "recall" not in path.parts:
            assert json.loads(path.read_text())["cells"] == json.loads(text)["cells"], path
    assert json.loads((out / "recall" / "results.json").read_text())["models"] == summary["recall"]["models"]


def failing_job(on_step):
    on_step(1, 0.5)
    raise RuntimeError("boom in the worker")


def echo_job(value, on_step):
    on_step(1, 0.1)
    return value * 2


def test_worker_results_and_failures_reach_the_parent():
    assert run_jobs({"a": (echo_job, {"value": 2}), "b": (echo_job, {"value": 5})}, {"a": 1, "b": 1}, 2) == {
        "a": 4,
        "b": 10,
    }
    with pytest.raises(SystemExit, match="boom in the worker"):
        run_jobs({"bad": (failing_job, {})}, {"bad": 1}, 1)


def test_bad_options_are_refused():
    with pytest.raises(SystemExit, match="unknown names"):
        main(["demo", "--models", "lm2,transformer-xl"])
