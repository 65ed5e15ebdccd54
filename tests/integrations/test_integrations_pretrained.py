"""Loading a model for use never loads silently wrong: damaged weights, a config.json that asks for more (or
other) weights than the file holds, truncated or missing files are refused with one line naming the folder
and what is wrong — in the library (`load_weights`, `load_pretrained`) and in the commands (exit code 2)."""

from __future__ import annotations

import json
import logging
import re
import shutil

import pytest
import torch

from lm2.cli.main import main
from lm2.integrations.pretrained import load_pretrained, load_weights
from tests.integrations.tiny_checkpoint import save_tiny_checkpoint


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    path = tmp_path_factory.mktemp("good")
    save_tiny_checkpoint(path, "lm2", dtype=torch.float32)
    return path


def damaged(good, tmp_path, how: str):
    """A copy of the good folder, damaged `how`."""
    path = tmp_path / how
    shutil.copytree(good, path)
    weights, config = path / "model.safetensors", path / "config.json"
    if how == "nan":  # the last 64 bytes (the tail of the last tensor) become NaN in float32
        data = bytearray(weights.read_bytes())
        data[-64:] = b"\xff" * 64
        weights.write_bytes(bytes(data))
    elif how == "more-blocks":
        spec = json.loads(config.read_text())
        spec["num_hidden_layers"] += 1
        config.write_text(json.dumps(spec))
    elif how == "truncated":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif how == "no-weights":
        weights.unlink()
    elif how == "bad-json":
        config.write_text("{")
    return path


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("nan", "hold NaN or infinite values in 1 tensors"),
        ("more-blocks", "do not match its config.json: 18 missing from the weights (model.layers.3."),
        ("truncated", "cannot load the model in"),
        ("no-weights", "cannot load the model in"),
    ],
)
def test_damaged_weights_are_refused_naming_the_folder(good, tmp_path, how, message):
    path = damaged(good, tmp_path, how)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        load_weights(path)
    assert str(path) in str(info.value)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_pretrained(path)


def test_the_good_folder_loads_exactly(good):
    model, _ = load_pretrained(good, dtype="float64")
    reference = save_tiny_checkpoint(good.parent / "again", "lm2", dtype=torch.float32)
    for name, tensor in reference.state_dict().items():  # weights in float64; counts (write_sequences) stay integer
        expected = tensor.double() if tensor.is_floating_point() else tensor
        torch.testing.assert_close(model.state_dict()[name], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("how", ["nan", "more-blocks", "truncated", "no-weights", "bad-json"])
@pytest.mark.parametrize("command", ["generate", "inspect", "eval"])
def test_commands_refuse_damaged_models_with_one_line_and_exit_code_2(good, tmp_path, how, command, caplog):
    path = damaged(good, tmp_path, how)
    argv = {
        "generate": ["generate", "--model", str(path), "--prompt", "Mary went", "--greedy"],
        "inspect": ["inspect", "--model", str(path), "--prompt", "Mary went", "--out", str(tmp_path / "out")],
        "eval": ["eval", str(path), "--out", str(tmp_path / "out"), "--generate", "--samples", "1"],
    }[command]
    with caplog.at_level(logging.INFO):
        assert main(argv) == 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and not errors[0].exc_info and "\n" not in errors[0].getMessage()
    assert errors[0].getMessage().startswith(f"lm2 {command}: ") and str(path) in errors[0].getMessage()
    assert not (tmp_path / "out" / "results.json").exists()


def test_no_transformers_progress_bars_or_load_report(good, capfd):
    load_pretrained(good)
    captured = capfd.readouterr()
    assert "Loading weights" not in captured.err + captured.out and "LOAD REPORT" not in captured.err
