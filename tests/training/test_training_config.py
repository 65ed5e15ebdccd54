"""The typed run configuration: the model section is LM2Config's fields, checked when the run file is parsed,
before any tokenizer or model exists; every shipped run file parses."""

from __future__ import annotations

import dataclasses
import inspect
import logging
from pathlib import Path

import pytest

from lm2.cli.main import main
from lm2.cli.train import parse_config
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
    config = parse_config(["--config", str(path.relative_to(ROOT))])
    assert isinstance(config.model, ModelConfig)
    assert config.model_config(vocab_size=2048).segment_checkpointing == config.run.segment_checkpointing


def test_run_segment_checkpointing_is_the_one_switch():
    config = parse_config(["--run.segment_checkpointing", "true", "--model.arch", "rmt"])
    assert config.model_config(vocab_size=100).segment_checkpointing is True
    assert parse_config([]).model_config(vocab_size=100).segment_checkpointing is False
    with pytest.raises(ValueError, match=r"\['segment_checkpointing'\] \(segment_checkpointing is set by run"):
        TrainConfig(model={"segment_checkpointing": True})


def test_a_mapping_becomes_the_typed_section_and_vocab_size_defaults_to_the_tokenizers():
    config = TrainConfig(model={"arch": "rmt", "num_memory_tokens": 4})
    assert config.model == ModelConfig(arch="rmt", num_memory_tokens=4)
    assert config.model_config(vocab_size=77).vocab_size == 77
    assert TrainConfig(model={"vocab_size": 50}).model_config(vocab_size=77).vocab_size == 50
