"""The training loop: loss goes down, curriculum, validation, NaN stop, checkpoints, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lm2.cli.train import parse_config
from lm2.training.checkpoint import checkpoint_dirs
from lm2.training.trainer import Trainer, TrainingDiverged
from tests.training.conftest import tiny_config, to_argv


def metrics(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_babilong_loss_goes_down_and_model_is_exported(tmp_path):
    cfg = tiny_config(tmp_path, run={"steps": 40, "batch_size": 16, "save_every": 0}, optim={"lr": 1e-2})
    result = Trainer(cfg).fit()
    losses = [m["loss"] for m in metrics(tmp_path) if "loss" in m]
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5
    assert "qa1/0seg" in result["accuracy"] and 0.0 <= result["accuracy"]["qa1/0seg"] <= 1.0
    assert (tmp_path / "model" / "model.safetensors").exists() and (tmp_path / "model" / "tokenizer.json").exists()


def test_language_modelling_on_a_text_folder(tmp_path):
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "a.txt").write_text("the cat sat on the mat. " * 400)
    cfg = tiny_config(
        tmp_path / "run", data={"task": "lm", "text_dir": str(texts), "sequence_length": 48},
        run={"steps": 30, "batch_size": 8, "save_every": 0}, optim={"lr": 1e-2},
    )  # fmt: skip
    result = Trainer(cfg).fit()
    losses = [m["loss"] for m in metrics(tmp_path / "run") if "loss" in m]
    assert losses[-1] < 0.5 * losses[0] and result["val_loss"] < losses[0]


def test_curriculum_advances_on_steps_and_lengthens_samples(tmp_path):
    cfg = tiny_config(
        tmp_path, model={"segment_length": 128}, curriculum={"segments": [0, 1, 2], "stage_steps": 2},
        run={"steps": 6, "eval_every": 0},  # the stages follow the steps, not the validations
    )  # fmt: skip
    trainer = Trainer(cfg)
    widths = []
    original = trainer.stream.batch

    def spy(step, indices, length, *rest):
        batch = original(step, indices, length, *rest)
        widths.append((trainer.segments, batch.input_ids.shape[1]))
        return batch

    trainer.stream.batch = spy
    trainer.fit()
    stages = [s for s, _ in widths]
    assert stages == [0, 0, 1, 1, 2, 2]
    assert (
        max(w for s, w in widths if s == 2) > max(w for s, w in widths if s == 1) > max(w for s, w in widths if s == 0)
    )
    assert 2 * 128 - 24 < max(w for s, w in widths if s == 2) <= 2 * 128  # fills about two segments


def test_per_stage_steps_set_each_stage_length(tmp_path):
    """`stage_steps` as a list: stage k lasts its own number of steps (given as text too, as on a command line)."""
    cfg = tiny_config(tmp_path, model={"segment_length": 128}, run={"steps": 7, "eval_every": 0},
                      curriculum={"segments": [0, 1, 2], "stage_steps": "1,4,1"})  # fmt: skip
    assert cfg.curriculum.stage_steps == [1, 4, 1]
    trainer = Trainer(cfg)
    stages = []
    original = trainer.stream.batch

    def spy(step, indices, length, *rest):
        stages.append(trainer.segments)
        return original(step, indices, length, *rest)

    trainer.stream.batch = spy
    trainer.fit()
    assert stages == [0, 1, 1, 1, 1, 2, 2]  # the last stage runs to the end


def test_length_jitter_moves_the_question_within_its_segment(tmp_path):
    """With jitter the inputs of one stage vary by up to a segment; without, they all fill it."""
    widths = {}
    for jitter in (0.0, 1.0):
        cfg = tiny_config(tmp_path / str(jitter), model={"segment_length": 64}, curriculum={"segments": [2]},
                          data={"length_jitter": jitter}, run={"batch_size": 16})  # fmt: skip
        trainer = Trainer(cfg)
        batch = trainer._micro_batches()[0]
        widths[jitter] = batch.attention_mask.sum(1)
    assert int(widths[0.0].min()) > 2 * 64 - 24  # every sample fills two segments less the reserve
    assert int(widths[1.0].max() - widths[1.0].min()) > 24 and int(widths[1.0].min()) > 64 - 24


def test_drawn_segments_cover_every_length_up_to_the_stage(tmp_path):
    """draw_segments: at stage n each sample's input fills 1..n segments (drawn per sample, the same draw for
    the same step and index, so a resumed run sees the same batches); without it every sample fills n."""
    lengths = {}
    for draw in (False, True):
        curriculum = {"segments": [4], "draw_segments": draw}
        cfg = tiny_config(tmp_path / str(draw), model={"segment_length": 32}, curriculum=curriculum,
                          data={"reserve": 12}, run={"batch_size": 64})  # fmt: skip
        trainer = Trainer(cfg)
        lengths[draw] = trainer._micro_batches()[0].attention_mask.sum(1)
        again = trainer._micro_batches()[0].attention_mask.sum(1)
        assert torch.equal(lengths[draw], again)  # integer token counts
    segments = (lengths[True] + 31) // 32  # the segments each sample fills (question and answer in the reserve)
    assert set(segments.tolist()) == {1, 2, 3, 4}
    assert int(lengths[False].min()) > 3 * 32


def test_max_facts_curriculum_trains_on_short_stories_first(tmp_path):
    """`curriculum.max_facts` draws only questions asked after at most k facts in its stage; 0 lifts the cap."""
    cfg = tiny_config(tmp_path, curriculum={"segments": [0, 0, 0], "max_facts": [2, 4, 0], "stage_steps": 2},
                      run={"steps": 6, "batch_size": 16})  # fmt: skip
    trainer = Trainer(cfg)
    facts = []
    original = trainer.stream.item

    def spy(step, index, length, jitter=0, max_facts=0):
        item = original(step, index, length, jitter, max_facts)
        facts.append((trainer.stage, item["sample"].input.count(".")))
        return item

    trainer.stream.item = spy
    trainer.fit()
    by_stage = {stage: [n for s, n in facts if s == stage] for stage in range(3)}
    assert max(by_stage[0]) == 2 and max(by_stage[1]) == 4 and max(by_stage[2]) > 4
    assert min(by_stage[1]) <= 2 < max(by_stage[1])  # a cap, not a fixed length
    assert all(len(s.facts) <= 2 for s in trainer.stream.pool("qa1", 2))
    assert len(trainer.stream.pool("qa1", 1)) > 0  # no story that short: the shortest ones instead


def test_drop_shortcut_trains_only_where_the_latest_facts_place_is_wrong(tmp_path, caplog):
    """`data.drop_shortcut` leaves out the questions whose answer is the place named in the story's latest fact, in
    every batch drawn, and keeps the validation set as it was."""
    from lm2.data import story_last_label

    def shortcut_right(sample):
        return story_last_label(sample.facts, sample.question, "qa1") == sample.target

    plain = Trainer(tiny_config(tmp_path / "plain", run={"steps": 2, "batch_size": 16}))
    with caplog.at_level("INFO", logger="lm2.training.data"):
        drop = tiny_config(tmp_path / "drop", data={"drop_shortcut": True}, run={"steps": 2, "batch_size": 16})
        dropped = Trainer(drop)
    items = [plain.stream.item(0, i, 0)["sample"] for i in range(64)]
    assert 0 < sum(map(shortcut_right, items)) < len(items)  # the filter has something to leave out
    items = [dropped.stream.item(step, i, 0)["sample"] for step in range(2) for i in range(64)]
    assert not any(map(shortcut_right, items))
    kept, total = len(dropped.stream.train["qa1"]), len(plain.stream.train["qa1"])
    assert 0 < kept < total
    assert f"qa1: {kept} of {total} training questions kept" in caplog.text  # what the run says it dropped
    assert dropped.stream.validation == plain.stream.validation
    dropped.fit()  # and it trains
    assert "drop_shortcut: true" in (tmp_path / "drop" / "config.yaml").read_text()


def test_drop_shortcut_with_nothing_left_is_refused(tmp_path, monkeypatch):
    class Matches(str):  # a shortcut answer equal to every target
        def __ne__(self, other):
            return False

    monkeypatch.setattr("lm2.training.data.story_last_label", lambda facts, question, task: Matches())
    with pytest.raises(ValueError, match="data.drop_shortcut: every training question of qa1 is answered by"):
        Trainer(tiny_config(tmp_path, data={"drop_shortcut": True}))


def test_curriculum_advances_on_accuracy(tmp_path):
    cfg = tiny_config(tmp_path, curriculum={"segments": [0, 1], "advance": "accuracy", "threshold": 0.0},
                      run={"steps": 4, "eval_every": 2})  # fmt: skip
    trainer = Trainer(cfg)
    trainer.fit()
    assert trainer.stage == 1


def test_nan_loss_stops_with_the_step_and_keeps_last_good_checkpoint(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, run={"steps": 8, "save_every": 2}))
    forward = trainer.wrapped.forward

    def poisoned(*args, **kwargs):
        loss = forward(*args, **kwargs)
        return loss * float("nan") if trainer.step == 4 else loss  # the 5th step

    trainer.wrapped.forward = poisoned
    with pytest.raises(TrainingDiverged, match="loss became nan at step 5.*step-00000004"):
        trainer.fit()
    assert [p.name for p in checkpoint_dirs(tmp_path)] == ["step-00000002", "step-00000004"]


def test_checkpoints_keep_last_k_and_ignore_partial_writes(tmp_path):
    Trainer(tiny_config(tmp_path, run={"steps": 6, "save_every": 1, "keep_last": 2})).fit()
    assert [p.name for p in checkpoint_dirs(tmp_path)] == ["step-00000005", "step-00000006"]
    partial = tmp_path / "step-00000009"  # a directory without trainer.pt is not a checkpoint
    partial.mkdir()
    assert checkpoint_dirs(tmp_path)[-1].name == "step-00000006"


def test_resume_from_a_different_architecture_is_refused(tmp_path):
    Trainer(tiny_config(tmp_path, run={"steps": 2, "save_every": 2})).fit()
    with pytest.raises(ValueError, match="would not continue .*model.arch: 'lm2' in the run, 'rmt' now"):
        Trainer(tiny_config(tmp_path, model={"arch": "rmt"}, run={"steps": 4}))


def test_command_line_round_trip_and_overrides(tmp_path):
    cfg = tiny_config(tmp_path)
    parsed = parse_config([*to_argv(cfg), "--optim.lr", "0.02", "--curriculum.segments", "[0, 1]"])
    assert parsed.optim.lr == 0.02 and parsed.curriculum.segments == [0, 1] and parsed.model == cfg.model


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--optim.lrr", "1"], "optim.lrr is not a known key; allowed in optim: lr, min_lr_ratio"),
        (["--run.steps", "many"], "run.steps=many has the wrong type; allowed: int"),
    ],
)
def test_bad_command_line_stops_before_training(tmp_path, argv, message):
    with pytest.raises(ValueError, match=message):
        parse_config([*to_argv(tiny_config(tmp_path)), *argv])


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"model": {"hidden_sise": 32}}, r"model has unknown keys \['hidden_sise'\]"),
        ({"model": {"arch": "lstm"}}, "arch='lstm' is not allowed"),
        ({"data": {"babi": "/nonexistent/babi"}}, "data.babi='/nonexistent/babi' does not exist"),
        ({"data": {"task": "lm", "text_dir": "/nope"}}, "data.text_dir='/nope' must be a folder"),
        ({"data": {"task": "translate"}}, "data.task='translate' is not allowed"),
        ({"curriculum": {"segments": [0, 1]}}, r"curriculum.stage_steps=0 must be > 0 for every stage but the last"),
        (
            {"curriculum": {"segments": [0, 1], "stage_steps": [3]}},
            r"stage_steps=\[3\] must be a number >= 0 or one per",
        ),
        ({"run": {"batch_size": 6, "accumulation": 4}}, "run.batch_size=6 must be divisible by run.accumulation=4"),
        ({"run": {"precision": "fp8"}}, "run.precision='fp8' is not allowed"),
        ({"data": {"length_jitter": 1.5}}, r"data.length_jitter=1.5 must be in \[0, 1\]"),
        (
            {"curriculum": {"segments": [0, 0], "max_facts": [2], "stage_steps": 2}},
            r"curriculum.max_facts=\[2\] must be empty or give one number >= 0 per stage",
        ),
    ],
)
def test_bad_config_raises_before_training(tmp_path, sections, message):
    with pytest.raises(ValueError, match=message):
        Trainer(tiny_config(tmp_path, **sections))
    assert not (tmp_path / "metrics.jsonl").exists()


def test_paper_scale_config_builds_and_takes_a_step_on_a_tiny_batch():
    """The Llama-3.2-1B-shaped LM2 of configs/paper-1b-babilong.yaml: parameter count on the meta device,
    then a real forward + backward in bf16 on 16 tokens at the paper's width and bank (2,048 × 2,048) with
    two of its 16 blocks and a 4,096-token vocabulary (the other 14 blocks and the 128k embeddings are the
    same code, and would only make the test a minute long)."""
    import yaml

    from lm2 import LM2Config, LM2ForCausalLM
    from lm2.model.flops import parameter_counts

    spec = yaml.safe_load((Path(__file__).parents[2] / "configs/paper-1b-babilong.yaml").read_text())["model"]
    config = LM2Config(vocab_size=128256, **spec)
    assert (config.num_hidden_layers, config.hidden_size, config.memory_slots) == (16, 2048, 2048)
    with torch.device("meta"):
        meta = LM2ForCausalLM(config)
    assert parameter_counts(config)["total"] == sum(p.numel() for p in meta.parameters())
    del meta
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)  # build in bf16 directly: half the memory, no fp32 copy
    try:
        model = LM2ForCausalLM(LM2Config(vocab_size=4096, **{**spec, "num_hidden_layers": 2}))
    finally:
        torch.set_default_dtype(default)
    ids = torch.randint(4, 4096, (1, 16))
    out = model(ids, labels=ids)
    out.loss.backward()
    assert torch.isfinite(out.loss) and out.memory.memory.dtype == torch.float32
    assert model.model.layers[0].memory.forget_gate.weight.grad.abs().sum() > 0


def test_saved_weights_are_safetensors(tmp_path):
    Trainer(tiny_config(tmp_path, run={"steps": 2, "save_every": 2})).fit()
    weights = load_file(tmp_path / "step-00000002" / "model.safetensors")
    assert "model.layers.0.memory.forget_gate.bias" in weights


@pytest.mark.parametrize("penalty", [0.0, 0.5])
def test_sparse_training_loss_equals_model_loss(penalty):
    """The trainer's loss view (LM head only where labels are scored) equals `model(...).loss`, write cost
    (`write_penalty`) included."""
    from lm2.training.distributed import LossOnly
    from tests.conftest import random_ids, tiny_model

    model = tiny_model("lm2", write_penalty=penalty, write_penalty_warmup=0)
    ids = random_ids(3, 20)
    mask = torch.ones_like(ids)
    mask[0, 15:] = 0  # right padding
    mask[1, :4] = 0  # left padding
    labels = torch.full_like(ids, -100)
    labels[:, 10:13] = ids[:, 10:13]
    labels[2, 5] = ids[2, 5]
    expected = model(ids, attention_mask=mask, labels=labels).loss
    # fp32 cross-entropy (~3.9) summed in another order: a few ulps (2.4e-7 each) apart, 5e-6 allowed.
    torch.testing.assert_close(LossOnly(model)(ids, mask, labels), expected, rtol=1e-6, atol=1e-6)


def test_micro_batch_shares_add_up_to_the_one_batch_loss_write_cost_included():
    """`LossOnly(..., totals)`: each micro-batch's share (cross-entropy over the global targets, input gates
    over the global tokens) adds up to `model(...).loss` of the whole batch (the default write cost, 0.1, here
    without its warm-up), however unevenly padding splits the tokens — what lets several processes reproduce
    one (trainer)."""
    from lm2.training.distributed import LossOnly
    from tests.conftest import random_ids, tiny_model

    model = tiny_model("lm2", write_penalty_warmup=0)
    assert model.config.write_penalty > 0
    ids = random_ids(3, 20)
    mask = torch.ones_like(ids)
    mask[0, 9:] = 0  # one short sample
    labels = ids.masked_fill(mask == 0, -100)
    totals = (int((labels[:, 1:] != -100).sum()), int(mask.sum()))
    with torch.no_grad():
        whole = model(ids, attention_mask=mask, labels=labels).loss
        shares = [LossOnly(model)(ids[p], mask[p], labels[p], None, totals) for p in (slice(0, 1), slice(1, 3))]
    torch.testing.assert_close(sum(shares), whole, rtol=1e-6, atol=1e-6)  # fp32 cross-entropy


@pytest.mark.parametrize("name", ["tiny-cpu-babilong", "tiny-cpu-lm", "small-gpu-babilong", "paper-1b-babilong"])
def test_shipped_run_files_parse_and_validate(name, monkeypatch):
    """Every YAML in configs/ parses (no unknown keys, right types) and builds a valid model config."""
    root = Path(__file__).parents[2]
    monkeypatch.chdir(root)
    config = parse_config(["--config", f"configs/{name}.yaml"])
    config.model_config(vocab_size=2048)
    if Path("../shared/data").exists():
        config.validate()
