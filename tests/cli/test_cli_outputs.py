"""Commands that write a folder never mix two runs in it: the same command with the same options may write
into it again; anything else is refused (exit code 2, one line naming what differs) unless `--overwrite`,
which clears the folder first."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from lm2.cli.main import main
from lm2.data import load_tokenizer
from tests.integrations.tiny_checkpoint import save_tiny_checkpoint


def refused(caplog, command: str, *fragments: str) -> None:
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith(f"lm2 {command}: --out ") and "\n" not in errors[0], errors
    assert all(fragment in errors[0] for fragment in fragments), errors[0]
    caplog.clear()


@pytest.fixture(scope="module")
def llama_without_tokenizer(tmp_path_factory):
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)  # fmt: skip
    path = tmp_path_factory.mktemp("llama")
    LlamaForCausalLM(config).save_pretrained(path)
    return path


def test_convert_never_mixes_with_an_existing_model(llama_without_tokenizer, tmp_path, caplog):
    out = tmp_path / "model"
    save_tiny_checkpoint(out, "lm2")  # another model, with its tokenizer.json
    args = ["convert", "--from-llama", str(llama_without_tokenizer), "--out", str(out), "--check-tokens", "0"]
    assert main(args) == 2
    refused(caplog, "convert", "already holds files", "--overwrite")
    assert (out / "tokenizer.json").is_file()  # untouched
    assert main([*args, "--overwrite"]) == 0
    assert not (out / "tokenizer.json").exists()  # the old model's tokenizer does not pass for the Llama's
    assert main(args) == 0  # the same conversion again: allowed, the same files
    assert main([*args, "--arch", "rmt"]) == 2
    refused(caplog, "convert", "holds the output of another run (arch: 'lm2' then, 'rmt' now")


def test_babilong_refuses_other_settings_and_grows_with_the_same(tmp_path, caplog):
    out = tmp_path / "set"
    base = ["data", "babilong", "--out", str(out), "--generate", "--lengths", "0k", "--samples", "2"]
    assert main([*base, "--tasks", "qa1", "--seed", "1"]) == 0
    assert main([*base, "--tasks", "qa2", "--seed", "2"]) == 2
    refused(caplog, "data babilong", "seed: 1 then, 2 now")
    assert not (out / "qa2").exists()
    assert main([*base, "--tasks", "qa2", "--seed", "1"]) == 0  # same settings: the folder grows
    manifest = json.loads((out / "lm2_manifest.json").read_text())
    assert manifest["tasks"] == ["qa1", "qa2"] and manifest["seed"] == 1
    assert main([*base, "--tasks", "qa3", "--seed", "2", "--overwrite"]) == 0
    manifest = json.loads((out / "lm2_manifest.json").read_text())
    assert manifest["tasks"] == ["qa3"] and manifest["seed"] == 2  # describes the folder exactly
    assert sorted(p.name for p in out.iterdir()) == ["lm2_manifest.json", "qa3"]


def test_tokenizer_inspect_and_recall_refuse_another_runs_folder(tmp_path, caplog):
    tok = tmp_path / "tok"
    assert main(["data", "tokenizer", "--out", str(tok), "--vocab-size", "600"]) == 0
    assert main(["data", "tokenizer", "--out", str(tok), "--vocab-size", "700"]) == 2
    refused(caplog, "data tokenizer", "vocab_size: 600 then, 700 now")
    assert len(load_tokenizer(tok)) <= 600
    model = tmp_path / "model"
    save_tiny_checkpoint(model, "lm2")
    inspect = ["inspect", "--model", str(model), "--out", str(tmp_path / "inspect"), "--max-tokens", "12"]
    assert main([*inspect, "--prompt", "Mary went to the garden."]) == 0
    assert main([*inspect, "--prompt", "John went to the office."]) == 2
    refused(caplog, "inspect", "prompt: 'Mary went to the garden.' then, 'John went to the office.' now")
    assert main([*inspect, "--prompt", "John went to the office.", "--overwrite"]) == 0
    assert main(["recall", "--out", str(tok), "--quick"]) == 2  # a tokenizer folder is not recall's
    refused(caplog, "recall", "holds the output of another run", "command: 'lm2 data tokenizer' then, 'lm2 recall'")
