"""Resume: a run killed with SIGKILL and restarted with the same command ends with the same weights as an
uninterrupted run (issue 5); a changed configuration is refused, naming the fields; `config.yaml` is the
run's configuration; `--init-from` starts a new run from weights; SIGINT/SIGTERM stop with a checkpoint
(issue 22)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from lm2.cli.train import parse_config
from lm2.training.resume import CONFIG_FILE, plain
from lm2.training.trainer import Trainer
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


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A 4-step run with checkpoints at steps 2 and 4 (seconds)."""
    out = tmp_path_factory.mktemp("run")
    Trainer(tiny_config(out, run={"steps": 4, "save_every": 2})).fit()
    return out


@pytest.mark.parametrize(
    ("sections", "fields"),
    [
        ({"optim": {"lr": 0.3, "warmup_steps": 0}}, ["optim.lr", "optim.warmup_steps"]),  # issue 22's hybrid
        ({"run": {"steps": 8}}, ["run.steps"]),  # the schedule's length
        ({"run": {"seed": 1}}, ["run.seed"]),
        ({"data": {"babi_tasks": ["qa2"]}}, ["data.babi_tasks"]),
        ({"curriculum": {"segments": [1]}}, ["curriculum.segments"]),
        ({"run": {"precision": "bf16"}}, ["run.precision"]),
    ],
)
def test_resume_with_a_changed_trajectory_is_refused_naming_the_fields(finished_run, sections, fields):
    config = tiny_config(finished_run, **{"run": {"steps": 4, "save_every": 2}} | sections)
    with pytest.raises(ValueError, match="would not continue") as info:
        Trainer(config)
    message = str(info.value)
    assert all(f"{field}: " in message for field in fields), message
    assert "--init-from" in message and "step-00000004" in message


def test_resume_may_change_how_the_run_goes_but_not_what_it_computes(finished_run, tmp_path):
    how = {"steps": 4, "save_every": 1, "threads": 2, "log_every": 3, "keep_last": 5, "accumulation": 2}
    trainer = Trainer(tiny_config(finished_run, run=how, data={"validation_samples": 3}))
    assert trainer.step == 4  # resumed, nothing refused
    accuracy_mode = {"advance": "accuracy", "threshold": 2.0}  # validation now decides the curriculum
    Trainer(tiny_config(tmp_path, run={"steps": 4, "save_every": 2}, curriculum=accuracy_mode)).fit()
    with pytest.raises(ValueError, match="data.validation_samples: 8 in the run, 3 now"):
        Trainer(tiny_config(tmp_path, run={"steps": 4}, curriculum=accuracy_mode, data={"validation_samples": 3}))


def test_config_yaml_is_the_resolved_configuration_and_resumes_the_run(finished_run, tmp_path):
    config = tiny_config(tmp_path, data={"babi_tasks": "qa1,qa2"}, curriculum={"segments": [0, 1], "stage_steps": 3})
    Trainer(config)  # writes run.out/config.yaml before any step
    text = (tmp_path / CONFIG_FILE).read_text()
    assert "warmup_steps: 2" in text and "babi_tasks: [qa1, qa2]" in text  # readable YAML, one field a line
    assert plain(parse_config(["--config", str(tmp_path / CONFIG_FILE)])) == plain(config)
    assert Trainer(parse_config(["--config", str(finished_run / CONFIG_FILE)])).step == 4


def test_init_from_starts_a_new_run_from_the_weights(finished_run, tmp_path, caplog):
    source = finished_run / "model"
    trainer = Trainer(tiny_config(tmp_path / "new", run={"init_from": str(source)}, optim={"lr": 0.3}))
    assert trainer.step == 0 and trainer.scheduler.last_epoch == 0  # a new run: step 0, fresh schedule
    saved = load_file(source / "model.safetensors")
    state = trainer.model.state_dict()
    for name, tensor in saved.items():
        torch.testing.assert_close(state[name], tensor, rtol=0, atol=1e-7)
    with pytest.raises(ValueError, match=r"do not match its config.json: \d+ of another shape"):
        Trainer(tiny_config(tmp_path / "wider", model={"hidden_size": 64}, run={"init_from": str(source)}))
    assert "other memory fields" not in caplog.text
    # Other memory fields on the same weights: allowed (a variant from pretrained weights), and said.
    with caplog.at_level(logging.WARNING, logger="lm2.training.trainer"):
        Trainer(tiny_config(tmp_path / "split", model={"memory_read_center": "split"}, run={"init_from": str(source)}))
    assert "was trained with other memory fields than this run's: memory_read_center=False there, 'split' here" in (
        caplog.text
    )


def test_init_from_another_memory_variant_keeps_every_shared_weight_and_names_the_others(
    finished_run, tmp_path, caplog
):
    """A run with writes addressed by key (W_A, no forget gate) from row-aligned weights: every weight both have is
    the file's; W_A starts from the model's own initialisation, the forget gates are not used, and the warnings name
    both and the fields that differ (memory_output too, though no preset sets it). Keys outside the memory path must
    still match (a wider model is refused as before)."""
    source = finished_run / "model"
    addressed = {"memory_write": "addressed", "memory_output": "read"}
    with caplog.at_level(logging.WARNING):
        trainer = Trainer(tiny_config(tmp_path / "addressed", model=addressed, run={"init_from": str(source)}))
    saved = load_file(source / "model.safetensors")
    state = trainer.model.state_dict()
    shared = [name for name in saved if name in state]
    assert all(torch.equal(state[name], saved[name]) for name in shared) and len(shared) > 10
    new = sorted(set(state) - set(saved))
    assert new and all(".memory.address_proj." in name for name in new)
    assert any(".memory.forget_gate." in name for name in set(saved) - set(state))
    assert "memory parameters start from this model's initialisation (model.layers.0.memory.address_proj.weight" in (
        caplog.text
    )
    assert "of the weights are not used (model.layers.0.memory.forget_gate.bias" in caplog.text
    for field in ("memory_write='rows' there, 'addressed' here", "memory_output='bank' there, 'read' here"):
        assert field in caplog.text
    wider = {**addressed, "hidden_size": 64}
    with pytest.raises(ValueError, match=r"do not match its config.json: \d+ of another shape"):
        Trainer(tiny_config(tmp_path / "wider", model=wider, run={"init_from": str(source)}))


def test_a_new_run_from_weights_may_price_writes_otherwise_than_they_were_trained(finished_run, tmp_path):
    """The write price's count of training sequences is not a weight: a new run from weights trained without the
    price starts its own count at 0 (docs/reproduction.md, amendment 7: pretrained without the price, fine-tuned
    with it), one without a price drops the count, and one with a price from priced weights continues theirs."""
    source = finished_run / "model"
    counted = int(load_file(source / "model.safetensors")["write_sequences"])
    assert counted == 4 * 4  # the default price with its warm-up: 4 steps of 4 sequences
    free = Trainer(tiny_config(tmp_path / "free", model={"write_penalty": 0.0}, run={"init_from": str(source)}))
    assert not hasattr(free.model, "write_sequences")
    free.fit()
    assert "write_sequences" not in load_file(tmp_path / "free" / "model" / "model.safetensors")
    priced = Trainer(tiny_config(tmp_path / "priced", run={"init_from": str(tmp_path / "free" / "model"), "steps": 2}))
    assert int(priced.model.write_sequences) == 0
    priced.fit()
    assert int(load_file(tmp_path / "priced" / "model" / "model.safetensors")["write_sequences"]) == 2 * 4
    again = Trainer(tiny_config(tmp_path / "again", run={"init_from": str(source)}))
    assert int(again.model.write_sequences) == counted


@pytest.fixture(scope="module")
def vanilla_run(tmp_path_factory):
    """A 2-step full-attention run: a backbone for the memory architectures (seconds)."""
    out = tmp_path_factory.mktemp("vanilla")
    Trainer(tiny_config(out, model={"arch": "vanilla"}, run={"steps": 2, "save_every": 0})).fit()
    return out


@pytest.mark.parametrize("arch", ["lm2", "rmt", "armt"])
def test_a_memory_model_starts_from_a_vanilla_models_backbone(vanilla_run, finished_run, tmp_path, arch, caplog):
    """`--init-from` a vanilla model into a memory architecture (docs/reproduction.md, amendment 20: the memories
    compared on one trained backbone): every tensor of the file is the model's, unchanged; what the file lacks is the
    memory, started as a fresh model starts it (LM2's gates at their initial biases) and finite; the run trains
    from there. Another architecture than vanilla is refused, naming both."""
    source = vanilla_run / "model"
    with caplog.at_level(logging.WARNING, logger="lm2.training.trainer"):
        trainer = Trainer(tiny_config(tmp_path / arch, model={"arch": arch}, run={"init_from": str(source)}))
    saved = load_file(source / "model.safetensors")
    state = trainer.model.state_dict()
    assert set(saved) < set(state)
    assert all(torch.equal(state[name], saved[name]) for name in saved)
    memory = sorted(set(state) - set(saved))
    expected = {"lm2": ".memory.", "rmt": "memory_tokens", "armt": "associative."}[arch]
    assert any(expected in name for name in memory)
    assert all(bool(torch.isfinite(state[name]).all()) for name in memory)
    if arch == "lm2":
        config = trainer.model.config
        for name, bias in (
            (".memory.in_gate.bias", config.input_bias),
            (".memory.forget_gate.bias", config.forget_bias),
        ):
            for key in (k for k in memory if k.endswith(name)):
                assert torch.equal(state[key], torch.full_like(state[key], bias)), key
    assert f"is a vanilla model: it gives this {arch} model its backbone ({len(saved)} tensors)" in caplog.text
    trainer.fit()
    trained = load_file(tmp_path / arch / "model" / "model.safetensors")
    assert any(not torch.equal(trained[name], saved[name]) for name in saved)  # the backbone trains on
    if arch == "armt":  # once: the refusal does not depend on the parameter
        refused = tiny_config(
            tmp_path / "refused", model={"arch": "armt"}, run={"init_from": str(finished_run / "model")}
        )
        with pytest.raises(
            ValueError, match="holds an arch='lm2' model and this run trains arch='armt': weights cross"
        ):
            Trainer(refused)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_at_a_step_boundary_with_a_checkpoint_and_exit_130(tmp_path, sig):
    cfg = tiny_config(tmp_path, run={"steps": 100000, "save_every": 0, "log_every": 1})
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "lm2.cli.main", "train", *to_argv(cfg)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    metrics = tmp_path / "metrics.jsonl"
    while not (metrics.exists() and metrics.read_text().count('"loss"') >= 2) and time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    line = [text for text in stderr.splitlines() if text.startswith("lm2 train: stopped at step")]
    assert len(line) == 1 and line[0].endswith("the same command resumes"), stderr
    step = int(line[0].split("stopped at step ")[1].split(";")[0])
    assert (tmp_path / f"step-{step:08d}" / "trainer.pt").is_file()
    assert Trainer(cfg).step == step  # the same configuration resumes from it
