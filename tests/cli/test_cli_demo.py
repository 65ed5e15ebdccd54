"""`lm2 demo --quick` end to end: all three acts, their files, resume, and failures of a worker."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from lm2.cli.demo import STUDY_MODELS, act_models, checkpoints_act, shipped_models
from lm2.cli.main import main
from lm2.model.variants import DEFAULT_MODELS
from tests.integrations.tiny_checkpoint import save_tiny_checkpoint

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_main_job_is_lm2_demo():
    """The README's first command installs and runs `lm2 demo`: the command the next test runs (quick)."""
    commands = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    assert commands and commands[0].strip() == "pip install torch==2.13.0 && pip install -e . && lm2 demo"


def test_the_recorded_run_is_of_the_demos_defaults():
    """The README's "real output" and `results/demo/summary.json` are a run of today's defaults: a changed default
    (act 2's steps went from 2,400 to 1,200) needs the run made again."""
    from lm2.cli.main import build_parser

    defaults = build_parser("demo").parse_args(["demo"])
    recorded = json.loads((README.parent / "results" / "demo" / "summary.json").read_text())["settings"]
    for name in ("recall_steps", "babilong_steps", "segment_length", "train_segments", "samples", "seed", "acts"):
        assert recorded[name] == str(getattr(defaults, name)), name
    steps = [int(n) for n in re.findall(r"^\[[12]/3\] .*, (\d+) steps each$", README.read_text(), flags=re.M)]
    assert steps == [defaults.recall_steps, defaults.babilong_steps]


def test_demo_quick_runs_all_acts_and_resumes(tmp_path, capsys):
    shipped = tmp_path / "shipped"
    save_tiny_checkpoint(shipped / "lm2" / "model", dtype=torch.float32)
    out = tmp_path / "demo"
    # Three of the default models (a bank, an associative memory, none) keep the suite quick; the default list
    # itself is tests/model/test_variants.py's.
    argv = ["demo", "--quick", "--models", "lm2,armt,vanilla", "--out", str(out), "--checkpoints", str(shipped)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    for needle in ("[1/3] cross-segment recall", "[2/3] BABILong", "[3/3] shipped checkpoints", "chance"):
        assert needle in printed
    summary = json.loads((out / "summary.json").read_text())
    names = ["lm2", "armt", "vanilla"]
    assert [cell["model"] for cell in summary["recall"]["cells"]] == names
    for cell in summary["recall"]["cells"]:  # the ladder's recall rung, quick: 1x and 4x the training length
        accuracy = cell["accuracy"]
        assert set(accuracy) == {"1", "4"} and all(0 <= v <= 1 for v in accuracy.values())
        assert (cell["norm"]["4"] is None) == cell["model"].startswith("vanilla")
    for name in names:
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
    capsys.readouterr()
    assert main(argv) == 0
    printed = capsys.readouterr().out
    for name in names:  # act 2 starts no worker for a model trained and evaluated with these settings
        assert f"act 2: {name} is trained and evaluated in {out / 'babilong'}; reused" in printed
    assert {p: p.stat().st_mtime_ns for p in out.rglob("model.safetensors")} == mtimes
    for path, text in before.items():
        if "recall" not in path.parts:
            assert json.loads(path.read_text())["cells"] == json.loads(text)["cells"], path
    assert json.loads((out / "recall" / "results.json").read_text())["cells"] == summary["recall"]["cells"]


def test_act3_finds_the_checkpoints_or_says_why_it_is_skipped(tmp_path, monkeypatch, capsys):
    """No path inside the package: --checkpoints, else $LM2_CHECKPOINTS (folders of <name>/model/), else the
    study's models present under the current folder, else skipped with a note."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LM2_CHECKPOINTS", raising=False)
    args = argparse.Namespace(checkpoints=None, out=tmp_path / "demo", quick=True, samples=8, seed=0, device="cpu")
    assert shipped_models(None)[0] == {} and checkpoints_act(args) == {}
    printed = capsys.readouterr().out
    assert ("act 3 skipped: the shipped checkpoints are absent (no results/reproduction/amendment23/ under the "
            "current folder)") in printed  # fmt: skip
    assert "--checkpoints DIR or LM2_CHECKPOINTS=DIR" in printed
    save_tiny_checkpoint(tmp_path / STUDY_MODELS["rmt"], dtype=torch.float32)  # a checkout's root, one model present
    assert shipped_models(None)[0] == {"rmt": Path(STUDY_MODELS["rmt"])}
    mine = tmp_path / "elsewhere" / "mine" / "model"
    save_tiny_checkpoint(mine, dtype=torch.float32)
    monkeypatch.setenv("LM2_CHECKPOINTS", str(tmp_path / "elsewhere"))  # the environment's folder replaces the study's
    assert shipped_models(None)[0] == {"mine": mine}
    assert shipped_models(tmp_path / "empty") == ({}, f"no <name>/model/ under {tmp_path / 'empty'}")
    args.checkpoints = tmp_path / "empty"
    assert checkpoints_act(args) == {}
    assert f"(no <name>/model/ under {tmp_path / 'empty'})" in capsys.readouterr().out


def test_the_study_models_act3_names_are_shipped():
    """A checkout holds the models act 3 evaluates by default, each loadable with its tokenizer."""
    root = README.parent
    for name, path in STUDY_MODELS.items():
        for file in ("config.json", "model.safetensors", "tokenizer.json"):
            assert (root / path / file).is_file(), (name, path, file)


def test_act2_trains_the_study_lm2_by_default_and_models_sets_both_acts():
    """Without --models, act 1 shows the library's default memories and act 2 the study's models: its LM2 is the
    shipped study's (tests/model/test_variants.py), the rest act 1's."""
    recall, babilong = act_models("")
    assert recall == list(DEFAULT_MODELS) and recall[0] == "lm2"
    assert babilong == ["lm2-hard-floor-delta-input", *DEFAULT_MODELS[1:]]
    assert act_models("armt,lm2") == (["armt", "lm2"], ["armt", "lm2"])


def test_bad_options_are_refused(caplog):
    assert main(["demo", "--models", "lm2,transformer-xl"]) == 2
    assert "lm2 demo: --models='lm2,transformer-xl' has unknown names ['transformer-xl']" in caplog.text
    assert main(["demo", "--acts", "2,4"]) == 2
    assert "lm2 demo: --acts='2,4' must be a comma-separated list drawn from 1, 2 and 3" in caplog.text
    assert main(["demo", "--train-segments", "0"]) == 2
    assert "lm2 demo: --train-segments=0 must be at least 1" in caplog.text


def test_one_act_alone_and_a_training_of_other_settings_is_not_reused(tmp_path, capsys):
    """`--acts 2` runs act 2 only, on `--train-segments` segments; started again in the same folder with another
    seed or recipe, the demo trains and evaluates again instead of reusing the model of the earlier settings."""
    out = tmp_path / "demo"
    argv = ["demo", "--quick", "--acts", "2", "--models", "lm2", "--segment-length", "16", "--train-segments", "2",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "[2/3] BABILong" in printed and "[1/3]" not in printed and "[3/3]" not in printed
    assert "trained on qa1 at 32 tokens (2 segments of 16)" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert "babilong" in summary and "recall" not in summary and "checkpoints" not in summary
    results = out / "babilong" / "eval" / "lm2" / "results.json"
    assert list(json.loads(results.read_text())["cells"]["qa1"]) == ["0k", "32", "64"]
    weights = out / "babilong" / "train" / "lm2" / "model" / "model.safetensors"
    first, written = weights.read_bytes(), weights.stat().st_mtime_ns
    assert main(argv) == 0  # the same settings: reused, nothing trained (a retraining would rewrite the file)
    assert "training it again" not in capsys.readouterr().out and weights.stat().st_mtime_ns == written
    assert main([*argv, "--seed", "1", "--train-segments", "3"]) == 0
    printed = capsys.readouterr().out
    assert "holds a training with other settings (curriculum.segments, run.seed); training it again" in printed
    assert weights.read_bytes() != first
    assert list(json.loads(results.read_text())["cells"]["qa1"]) == ["0k", "48", "96"]
    # Another act alone adds its entry to summary.json and leaves act 2's.
    act2 = json.loads((out / "summary.json").read_text())["babilong"]
    assert main(["demo", "--quick", "--acts", "3", "--out", str(out), "--checkpoints", str(tmp_path / "none")]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["babilong"] == act2 and summary["checkpoints"] == {} and summary["settings"]["acts"] == "3"


def test_ctrl_c_ends_the_demo_with_one_line_and_exit_130(tmp_path):
    """Ctrl-C reaches the whole foreground process group: the demo and its workers. The workers ignore it
    (the demo stops them), and the demo ends with one line saying where its finished parts are."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    log = tmp_path / "log"
    argv = [sys.executable, "-m", "lm2.cli.main", "demo", "--quick", "--out", str(tmp_path / "demo")]
    with open(log, "w") as stream:
        # SIGINT at its default in the demo, as in a terminal: a suite started in the background by a script
        # (`pytest &`) runs with SIGINT ignored, which every child would inherit.
        proc = subprocess.Popen(argv, env=env, stdout=stream, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
        deadline = time.time() + 120
        while "loss=" not in log.read_text() and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # the first workers are training
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=120) == 130, log.read_text()
    text = log.read_text()
    assert "Traceback" not in text, text
    assert f"lm2 demo: interrupted; the finished cells are saved in {tmp_path / 'demo'}" in text
