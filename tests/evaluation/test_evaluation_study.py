"""The reproduction study's driver (`lm2 reproduce`, `lm2.evaluation.study`): its run files make each variant
and fine-tune the model they pretrain; the plan refuses bad input; the interval; and, on the real bAbI files,
the whole study end to end at a smoke-test size, run twice: the second run adds no command (it resumes)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from lm2.cli.main import main
from lm2.cli.train import build_parser
from lm2.data.babi.generator import generate_babi
from lm2.data.paths import data_dir
from lm2.evaluation import study
from lm2.model import LM2ForCausalLM
from lm2.model.config import memory_fields
from lm2.model.variants import variant_config
from lm2.training.config import TrainConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "reproduction"


def model_section(*argv: str) -> dict:
    """The `model:` section that `lm2 train` would build from these words (parsed, not validated: the run
    files name data under runs/, absent in a clean checkout)."""
    return build_parser().parse_args(list(argv)).as_dict()["model"]


@pytest.mark.parametrize("run_file", ["finetune-qa1", "round2-qa1", "round2-qa2", "round2-qa3"])
@pytest.mark.parametrize("name", [*study.MODELS, "lm2-hard-floor-write0.1-warm-center-split"])  # the last: every field
def test_the_run_files_make_the_variant_and_fine_tune_the_model_they_pretrain(name, run_file):
    pretrain = model_section("--config", str(CONFIGS / "pretrain.yaml"), *study.variant_args(name))
    finetune = model_section("--config", str(CONFIGS / f"{run_file}.yaml"), *study.variant_args(name))
    assert finetune == pretrain  # `--init-from` needs the same shapes, and the same memory
    built = TrainConfig(model=pretrain).model_config(vocab_size=1024)  # as `lm2 train` builds it
    backbone = {k: pretrain[k] for k in ("hidden_size", "num_hidden_layers", "segment_length", "num_memory_tokens")}
    expected = variant_config(name, backbone)
    for field in (
        "arch",
        "vanilla_mode",
        "memory_update",
        "memory_gates",
        "write_penalty",
        "forget_floor",
        "memory_read_center",
    ):
        assert getattr(built, field) == getattr(expected, field), field


@pytest.mark.parametrize("name", ["lm2", "lm2-paper", "armt"])
def test_a_fine_tune_trains_the_memory_its_pretrained_model_has_whatever_the_defaults_are_now(name, tmp_path):
    """A model pretrained while its registry name meant another model (here: `lm2` while the split read was the
    default, ARMT before unit features) is fine-tuned as it was pretrained: its saved fields win over what the
    name means today."""
    before = {"lm2": {"memory_read_center": "split"}, "lm2-paper": {}, "armt": {"armt_feature_norm": False}}[name]
    saved = TrainConfig(model=model_section("--config", str(CONFIGS / "pretrain.yaml"), *study.variant_args(name)))
    pretrained = saved.model_config(vocab_size=1024)
    for field, value in before.items():
        setattr(pretrained, field, value)
    pretrained.save_pretrained(tmp_path)
    args = [*study.variant_args(name), *study.memory_args(tmp_path)]
    built = TrainConfig(model=model_section("--config", str(CONFIGS / "round2-qa1.yaml"), *args)).model_config(1024)
    for field in memory_fields(pretrained.arch):
        assert getattr(built, field) == getattr(pretrained, field), field
    assert built.memory_read_center == ("split" if name == "lm2" else False)


@pytest.mark.parametrize("task", ["qa2", "qa3"])
def test_round_two_runs_qa2_and_qa3_with_qa1s_recipe_and_their_own_story_lengths(task):
    """One recipe for every task (the issue: qa1 first, then qa2 and qa3): the run files differ from qa1's only in
    the task, the output folder and the story-length stages at 0k, which draw at most 1/3, 2/3 and all of the
    task's median number of facts in the generator's stories (qa1: 2, 4, 6 of 6), and the plan runs them."""
    qa1, other = (build_parser().parse_args(["--config", str(CONFIGS / f"round2-{t}.yaml")]).as_dict()
                  for t in ("qa1", task))  # fmt: skip
    assert other["data"].pop("babi_tasks") == [task] and qa1["data"].pop("babi_tasks") == ["qa1"]
    assert other["run"].pop("out").endswith(f"round2/{task}/lm2-seed0")
    del qa1["run"]["out"], qa1["config"], other["config"]  # `config`: the file each was read from
    caps, qa1_caps = other["curriculum"].pop("max_facts"), qa1["curriculum"].pop("max_facts")
    assert other == qa1
    for t, stages in (("qa1", qa1_caps), (task, caps)):
        facts = sorted(len(s.facts) for s in generate_babi(t, 400, seed=0))
        median = facts[len(facts) // 2]
        assert stages[:3] == [round(median / 3), round(2 * median / 3), median] and not any(stages[3:]), (t, median)
    plan = study.StudyPlan(configs=CONFIGS, tasks=("qa1", task), finetune="round2")
    assert plan.finetune_config(task).name == f"round2-{task}.yaml"


def test_the_10m_pretraining_is_the_study_pretraining_widened_with_its_tokens_in_fewer_larger_steps():
    """Amendment 8's run file (docs/reproduction.md) changes only what its header declares: the width (SwiGLU at 4x it,
    as the study's, and 8 heads of 64), the weight scale, the GPU run fields, and the same tokens in 250 steps of 32
    windows; the data, windows, book resets, blocks, segments, memory sizes and seed are the study's."""
    small, wide = (build_parser().parse_args(["--config", str(CONFIGS / f"{f}.yaml")]).as_dict()
                   for f in ("pretrain", "pretrain-10m"))  # fmt: skip
    assert wide["data"] == small["data"]
    assert small["run"]["steps"] * small["run"]["batch_size"] == wide["run"]["steps"] * wide["run"]["batch_size"]
    changed = {k for k in small["model"] if small["model"][k] != wide["model"][k]}
    assert changed == {"hidden_size", "intermediate_size", "num_attention_heads", "initializer_range"}
    for m in (small["model"], wide["model"]):
        assert m["intermediate_size"] == 4 * m["hidden_size"]
    assert wide["model"]["hidden_size"] // wide["model"]["num_attention_heads"] == 64
    run_changes = {k for k in small["run"] if small["run"][k] != wide["run"][k]}
    assert run_changes == {"out", "steps", "batch_size", "device", "precision", "eval_every", "save_every"}
    assert wide["run"]["seed"] == small["run"]["seed"]
    params = {}
    for name in study.MODELS:
        model = model_section("--config", str(CONFIGS / "pretrain-10m.yaml"), *study.variant_args(name))
        config = TrainConfig(model=model).model_config(vocab_size=2048)
        with torch.device("meta"):
            params[name] = sum(p.numel() for p in LM2ForCausalLM(config).parameters())
    assert all(10e6 <= n <= 30e6 for n in params.values()), params  # the 10-30M parameters


def test_the_plan_names_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"models=\['lm3'\] are not model variants"):
        study.StudyPlan(configs=CONFIGS, models=("lm2", "lm3"))
    with pytest.raises(ValueError, match=r"must hold pretrain.yaml and finetune-<task>.yaml.*missing: \['qa2'\]"):
        study.StudyPlan(configs=CONFIGS, tasks=("qa2",))
    with pytest.raises(ValueError, match="unknown length '3x'"):
        study.StudyPlan(configs=CONFIGS, lengths=("0k", "3x"))
    with pytest.raises(ValueError, match=r"must hold pretrain.yaml and round9-<task>.yaml.*missing: \['qa1'\]"):
        study.StudyPlan(configs=CONFIGS, finetune="round9")
    with pytest.raises(ValueError, match=r"pretrained_from=.* lacks <model>/model/config.json for \['lm2', 'rmt'\]"):
        study.StudyPlan(configs=CONFIGS, models=("lm2", "rmt"), pretrained_from=tmp_path)
    with pytest.raises(ValueError, match="stages=\\['train'\\] are not stages"):
        study.run_study(study.StudyPlan(configs=CONFIGS, results=tmp_path), ["train"])


def test_wilson_interval():
    low, high = study.wilson(50, 100)
    assert (round(low, 3), round(high, 3)) == (0.404, 0.596)  # the textbook value for 50 of 100
    assert study.wilson(0, 200)[0] == 0.0 and study.wilson(200, 200)[1] == 1.0


def test_pooled_accuracy_counts_every_question_and_the_tie_rule_reads_the_intervals(tmp_path):
    """Two runs' results pooled: 60 of 100 and 30 of 50 right at 1k is 90 of 150, and at 0k 50 of 100 and 50 of 50 pool
    to 100 of 150 (66.7 %, where the runs' mean is 75 %), with the Wilson interval of the pooled count; a cell a run
    could not score (out of memory) adds nothing, and a length no run scored is left out. Cells tie when each accuracy
    lies inside the other's interval; otherwise the higher accuracy is above, whichever is passed first."""
    runs = []
    for i, cells in enumerate(
        [{"0k": (0.5, 100), "1k": (0.6, 100), "64k": (None, 0)}, {"0k": (1.0, 50), "1k": (0.6, 50), "64k": (None, 0)}]
    ):
        path = tmp_path / f"run{i}"
        path.mkdir()
        payload = {length: {"accuracy": acc, "samples": n} for length, (acc, n) in cells.items()}
        (path / "results.json").write_text(json.dumps({"format": "lm2-babilong-results/1", "cells": {"qa1": payload}}))
        runs.append(path)
    pooled = study.pooled_accuracy(runs)
    assert set(pooled) == {"0k", "1k"}
    assert pooled["0k"] == (100 / 150, *study.wilson(100, 150))
    assert pooled["1k"][0] == pytest.approx(0.6) and pooled["1k"][1:] == pytest.approx(study.wilson(90, 150))
    assert study.interval_order(pooled["0k"], pooled["1k"]) == "="
    low = (0.2, *study.wilson(20, 100))
    assert study.interval_order(pooled["1k"], low) == ">" and study.interval_order(low, pooled["1k"]) == "<"
    barely = (0.5, 0.45, 0.55)  # inside its interval, but the other's accuracy is outside this one's
    assert study.interval_order((0.56, 0.46, 0.66), barely) == ">"


def small_books(folder: Path) -> Path:
    """Five 'books' of a few thousand tokens, three of them named as the study's held-out books."""
    folder.mkdir(parents=True)
    sentence = "the ship sailed at dawn while the captain wrote letters to his sister about the storm"
    words = sentence.split()
    for i, name in enumerate([*study.HELDOUT_BOOKS, "emma", "persuasion"]):
        text = " ".join(words[(j * (i + 3)) % len(words)] for j in range(4000))
        (folder / f"{name}.txt").write_text(text.capitalize() + ".\n")
    return folder


@pytest.mark.skipif(data_dir() is None or not (data_dir() / "babi" / "en-10k").is_dir(),
                    reason="real bAbI files not found (set LM2_DATA_DIR to the shared data folder)")  # fmt: skip
def test_the_study_runs_end_to_end_and_resumes(tmp_path, capsys):
    data = tmp_path / "data"
    (data / "haystack").mkdir(parents=True)
    (data / "babi").symlink_to(data_dir() / "babi")
    small_books(data / "haystack" / "dev")
    argv = ["reproduce", "--runs", str(tmp_path / "runs"), "--results", str(tmp_path / "results"), "--data", str(data),
            "--configs", str(CONFIGS), "--models", "lm2", "--seeds", "0", "--lengths", "0k", "--samples", "2",
            "--contexts", "64,128", "--train-args", "--run.steps 2 --optim.warmup_steps 1 --run.eval_every 0 "
            "--data.validation_samples 2 --run.log_every 1 --data.generated_questions 400"]  # fmt: skip
    assert main(argv) == 0
    results = tmp_path / "results"
    runs = [json.loads(line) for line in (results / "runs.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in runs] == ["tokenizer", "shards", "pretrain", "perplexity", "finetune", "eval"]
    assert all(r["exit_code"] == 0 and r["command"].startswith("lm2 ") and r["machine"]["cpu_cores"] for r in runs)
    assert "--init-from" in runs[4]["command"] and "--model.arch lm2" in runs[4]["command"]
    assert sorted(p.name for p in (tmp_path / "runs" / "books" / "heldout").iterdir()) == sorted(
        f"{b}.txt" for b in study.HELDOUT_BOOKS
    )
    for kept in ("models/pretrained/lm2", "models/qa1/lm2-seed0"):
        assert (results / kept / "model" / "config.json").is_file() and (results / kept / "metrics.jsonl").is_file()
    report = (results / "report.md").read_text()
    assert "| lm2 | " in report and "## BABILong qa1" in report and "| finetune | qa1 | lm2 | 0 |" in report
    numbers = json.loads((results / "numbers.json").read_text())
    assert set(numbers["perplexity"]["lm2"]) == {"64", "128"} and "0" in numbers["qa1"]["lm2"]["0k"]
    assert main(argv) == 0  # everything done: nothing runs again
    assert len((results / "runs.jsonl").read_text().splitlines()) == len(runs)

    # A second round from the shipped pretrained models: its own run file, runs and results; no tokenizer,
    # shards or pretraining; round 1's fine-tuned model is neither reused nor touched.
    weights = tmp_path / "runs" / "finetune" / "qa1" / "lm2-seed0" / "model" / "model.safetensors"
    first = weights.stat().st_mtime_ns
    second = tmp_path / "round2"
    stages = "books,data,pretrain,finetune,eval,report"  # data and pretrain: nothing to do from shipped models
    argv2 = [*argv[:4], str(second), *argv[5:], "--finetune", "round2", "--pretrained",
             str(results / "models" / "pretrained"), "--stages", stages]  # fmt: skip
    assert argv2[3] == "--results" and main(argv2) == 0
    rounds = [json.loads(line) for line in (second / "runs.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in rounds] == ["finetune", "eval"]
    command = rounds[0]["command"]
    assert "round2-qa1.yaml" in command and "runs/round2/qa1/lm2-seed0" in command
    assert f"--init-from {results / 'models' / 'pretrained' / 'lm2' / 'model'}" in command
    assert f"--data.tokenizer {results / 'models' / 'pretrained' / 'lm2' / 'model'}" in command
    assert (second / "models" / "qa1" / "lm2-seed0" / "model" / "config.json").is_file()
    assert "## BABILong qa1" in (second / "report.md").read_text()
    assert weights.stat().st_mtime_ns == first


def test_command_names_bad_stages_and_ends_an_interrupt_in_one_line(tmp_path, monkeypatch, caplog):
    argv = ["reproduce", "--configs", str(CONFIGS), "--results", str(tmp_path), "--data", str(tmp_path)]
    assert main([*argv, "--stages", "train"]) == 2
    assert "stages=['train'] are not stages (--stages); allowed: all or books, data" in caplog.text

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(study, "run_study", interrupted)
    assert main(argv) == 130
    assert "interrupted; finished work is kept under" in caplog.text and "the same command continues" in caplog.text


def test_an_evaluation_is_finished_when_its_cells_are_scored_or_left_out_by_the_full_attention_guard(tmp_path):
    """Resuming the study does not run `lm2 eval` again for full attention whose long cells were left out by the
    plan's own `full_attention_tokens` (they would be left out again); a cell left out under another limit, or
    missing, runs."""
    plan = study.StudyPlan(configs=CONFIGS, results=tmp_path, lengths=("0k", "32k"))
    calls = []

    class Log:
        def run(self, stage, command, log, **keys):
            calls.append(command)

    out = plan.evaluation("qa1", "vanilla", 0)
    out.mkdir(parents=True)
    (out / "qa1_0k.csv").write_text("target,output,question\n")
    done = {"status": "done", "csv": "qa1_0k.csv"}

    def write(limit):
        over = {"status": "oom", "over_max_tokens": limit, "csv": "qa1_32k.csv"}
        (out / "results.json").write_text(json.dumps({"cells": {"qa1": {"0k": done, "32k": over}}}))

    write(plan.full_attention_tokens)
    study.evaluate(plan, Log(), "qa1", "vanilla", 0)
    assert calls == []
    write(plan.full_attention_tokens // 2)  # left out under a smaller limit: run with the plan's
    study.evaluate(plan, Log(), "qa1", "vanilla", 0)
    assert len(calls) == 1 and "--max-tokens" in calls[0]
    write(plan.full_attention_tokens)  # the same file for a segmented model: the guard is not its own
    lm2_out = plan.evaluation("qa1", "lm2", 0)
    lm2_out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(out, lm2_out)
    study.evaluate(plan, Log(), "qa1", "lm2", 0)
    assert len(calls) == 2 and "--max-tokens" not in calls[1]
