"""The typed run configuration: the model section is LM2Config's fields, checked when the run file is parsed,
before any tokenizer or model exists; every shipped run file parses."""

from __future__ import annotations

import dataclasses
import inspect
import logging
from pathlib import Path

import pytest
import yaml

from lm2.cli.main import main
from lm2.cli.train import parse_config
from lm2.data.mixture import load_mixture
from lm2.model import LM2Config
from lm2.training.config import DERIVED_MODEL_FIELDS, ModelConfig, TrainConfig, model_fields

ROOT = Path(__file__).parents[2]


def test_model_section_is_derived_from_lm2config():
    own = inspect.get_annotations(LM2Config, eval_str=True)
    defaults = {f.name: f.default for f in dataclasses.fields(LM2Config)}
    fields = {f.name: f for f in dataclasses.fields(ModelConfig)}
    assert list(fields) == [name for name in own if name not in DERIVED_MODEL_FIELDS]
    for name, f in fields.items():
        if name != "vocab_size":  # null: the tokenizer's size
            assert (f.type, f.default) == (own[name], defaults[name]), name


def test_every_model_field_is_described():
    assert all(doc for _, _, _, doc in model_fields())


def test_train_help_lists_the_model_fields_with_type_default_and_description(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for f in dataclasses.fields(ModelConfig):
        assert f"--model.{f.name} " in text
    assert "--model.memory_slots MEMORY_SLOTS rows N of the LM2 bank" in text
    assert "(type: int, default: 256)" in text  # hidden_size
    assert "--model.segment_checkpointing" not in text and "--run.segment_checkpointing" in text


@pytest.fixture
def nothing_built(monkeypatch):
    """Fails the test if a Trainer (tokenizer, data, model) is constructed."""
    from lm2.training import trainer

    def refuse(*args, **kwargs):
        raise AssertionError("a Trainer was built")

    monkeypatch.setattr(trainer.Trainer, "__init__", refuse)


@pytest.mark.parametrize(
    ("yaml", "argv", "message"),
    [
        ("model:\n  hidden_size: big\n", [], "model.hidden_size=big has the wrong type; allowed: int"),
        ("model:\n  nonexistent: 1\n", [], "model.nonexistent is not a known key; allowed in model: arch, vocab_size"),
        ("", ["--model.memory_layers", "[a]"], "model.memory_layers=['a'] has the wrong type; allowed: list[int] |"),
        ("", ["--model.segment_checkpointing", "true"], "model.segment_checkpointing is not a known key (it is set "),
        ("", ["--model", '{"num_hidden_layers": 2.5}'], "model.num_hidden_layers=2.5 has the wrong type"),
    ],
)
def test_unknown_or_ill_typed_model_keys_stop_the_parse(yaml, argv, message, tmp_path, caplog, nothing_built):
    run_file = tmp_path / "run.yaml"
    run_file.write_text(yaml or "{}\n")
    assert main(["train", "--config", str(run_file), *argv]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [errors[0]] and errors[0].startswith(f"lm2 train: {message}"), errors


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model.arch", "lstm"], "lm2 train: model: arch='lstm' is not allowed; choose one of 'lm2', 'rmt'"),
        (["--model.memory_slots", "3"], "lm2 train: model: memory_slots=3 must equal segment_length=128"),
    ],
)
def test_wrong_model_values_stop_before_the_tokenizer(argv, message, tmp_path, caplog, monkeypatch):
    from lm2.training import trainer

    def refuse(*args, **kwargs):
        raise AssertionError("a tokenizer was built")

    monkeypatch.setattr(trainer, "default_tokenizer", refuse)
    assert main(["train", "--run.out", str(tmp_path / "run"), *argv]) == 2
    assert message in caplog.text
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("path", sorted(ROOT.glob("configs/**/*.yaml")), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_run_file_parses_and_builds_its_model_config(path, monkeypatch):
    monkeypatch.chdir(ROOT)
    if "sources" in yaml.safe_load(path.read_text()):  # a mixture file (what data.shards may name)
        assert all(source.weight > 0 and source.corpus is not None for source in load_mixture(path))
        return
    config = parse_config(["--config", str(path.relative_to(ROOT))])
    assert isinstance(config.model, ModelConfig)
    assert config.model_config(vocab_size=2048).segment_checkpointing == config.run.segment_checkpointing


def test_run_segment_checkpointing_is_the_one_switch():
    config = parse_config(["--run.segment_checkpointing", "true", "--model.arch", "rmt"])
    assert config.model_config(vocab_size=100).segment_checkpointing is True
    assert parse_config([]).model_config(vocab_size=100).segment_checkpointing is False
    with pytest.raises(ValueError, match=r"\['segment_checkpointing'\] \(segment_checkpointing is set by run"):
        TrainConfig(model={"segment_checkpointing": True})


def test_memory_preset_in_a_run_file_and_its_resolved_config_yaml():
    """A run's resolved config.yaml writes every model field, the preset's included, at ModelConfig's defaults:
    it must rebuild the paper's model, and resume; a field that differs from both raises, naming it."""
    config = parse_config(["--model.memory_preset", "paper"])
    paper = config.model_config(vocab_size=100)
    assert (paper.memory_read_norm, paper.forget_floor, paper.memory_update) == (False, 0.0, "paper")
    resolved = TrainConfig(model=dataclasses.asdict(config.model))  # every field written out
    assert resolved.model.memory_read_norm is True  # LM2Config's default, as config.yaml writes it
    assert resolved.model_config(vocab_size=100).to_dict() == paper.to_dict()
    with pytest.raises(ValueError, match=r"sets forget_bias=1.0, but forget_bias=2.0 was given"):
        parse_config(["--model.memory_preset", "paper", "--model.forget_bias", "2.0"]).model_config(vocab_size=100)


def test_a_mapping_becomes_the_typed_section_and_vocab_size_defaults_to_the_tokenizers():
    config = TrainConfig(model={"arch": "rmt", "num_memory_tokens": 4})
    assert config.model == ModelConfig(arch="rmt", num_memory_tokens=4)
    assert config.model_config(vocab_size=77).vocab_size == 77
    assert TrainConfig(model={"vocab_size": 50}).model_config(vocab_size=77).vocab_size == 50


@pytest.mark.parametrize(
    ("argv", "section", "field", "expected"),
    [
        (["--data.babi_tasks", "qa1,qa2"], "data", "babi_tasks", ["qa1", "qa2"]),  # as `lm2 eval --tasks` takes
        (["--data.babi_tasks", "[qa1,qa3]"], "data", "babi_tasks", ["qa1", "qa3"]),
        (["--data.validation_lengths", "2,4"], "data", "validation_lengths", [2, 4]),
        (["--curriculum.segments", "1,2,4", "--curriculum.stage_steps", "5"], "curriculum", "segments", [1, 2, 4]),
    ],
)
def test_list_fields_take_comma_separated_values(argv, section, field, expected):
    assert getattr(getattr(parse_config(argv), section), field) == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--optim.lr", "-1"], "optim.lr=-1.0 must be > 0"),
        (["--optim.warmup_steps", "500", "--run.steps", "10"], "optim.warmup_steps=500 must be in [0, run.steps=10]"),
        (["--run.device", "gpu"], "run.device='gpu' is not a device; allowed: auto, cpu, cuda"),
        (["--data.babi_tasks", "qa1,qa42"], "data.babi_tasks='qa1,qa42': "),
        (["--curriculum.segments", "1,x"], "curriculum.segments='1,x' must be a list or comma-separated ints"),
        (["--data.haystack", "no/books"], "data.haystack='no/books' does not exist (relative paths are read from the"),
        (["--run.init_from", "/no/model"], "run.init_from='/no/model' is not a model folder (no config.json)"),
        (["--init-from", "/no/model"], "run.init_from='/no/model' is not a model folder"),
    ],
)
def test_bad_values_name_the_one_field_before_anything_is_built(argv, message, tmp_path, caplog, monkeypatch):
    from lm2.training import trainer

    monkeypatch.setattr(trainer, "default_tokenizer", lambda *a, **k: pytest.fail("a tokenizer was built"))
    assert main(["train", "--run.out", str(tmp_path / "run"), *argv]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith(f"lm2 train: {message}") and "\n" not in errors[0], errors
    assert "min_lr_ratio" not in errors[0]  # the one broken rule, not all of the optimiser's
    assert not (tmp_path / "run").exists()


def test_a_missing_babi_folder_stops_before_the_tokenizer(tmp_path, caplog, monkeypatch):
    from lm2.training import trainer

    monkeypatch.setattr(trainer, "default_tokenizer", lambda *a, **k: pytest.fail("a tokenizer was built"))
    monkeypatch.setenv("LM2_DATA_DIR", str(tmp_path / "nowhere"))
    assert main(["train", "--run.out", str(tmp_path / "run"), "--data.babi", "null"]) == 2
    assert "lm2 train: data.babi=null reads the shared data folder" in caplog.text
    (tmp_path / "babi").mkdir()
    assert main(["train", "--run.out", str(tmp_path / "run"), "--data.babi", str(tmp_path / "babi")]) == 2
    assert "qa1_single-supporting-fact_train.txt not found" in caplog.records[-1].getMessage()
