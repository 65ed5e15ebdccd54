"""`lm2 convert` turns a Llama folder into a working lm2 folder with the Llama's logits, and `lm2 inspect`
records and plots its memory."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from lm2.analysis.inspect import MemoryTrace
from lm2.cli.main import main
from lm2.integrations.pretrained import load_pretrained
from tests.integrations.tiny_checkpoint import save_tiny_checkpoint, tiny_tokenizer


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, rms_norm_eps=1e-5, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("llama")
    LlamaForCausalLM(config).save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    return path


def test_convert_then_generate_and_inspect(llama_dir, tmp_path, capsys):
    out = tmp_path / "converted"
    args = ["convert", "--from-llama", str(llama_dir), "--out", str(out), "--segment-length", "16"]
    assert main([*args, "--memory-layers", "0,1", "--check-tokens", "16"]) == 0
    printed = capsys.readouterr().out
    assert "max |logit - Llama logit| = 0 " in printed and "same top token at 100.0%" in printed
    model, tokenizer = load_pretrained(out)
    assert model.config.arch == "lm2" and model.config.memory_layers == [0, 1]
    assert main(["generate", "--model", str(out), "--prompt", "Mary went", "--greedy", "--max-new-tokens", "3"]) == 0
    text = "Mary moved to the bathroom. " * 6
    assert main(["inspect", "--model", str(out), "--prompt", text, "--out", str(tmp_path / "inspect")]) == 0
    assert "| 1 |" in capsys.readouterr().out


def test_inspect_writes_the_trace_and_three_pictures(tmp_path, capsys):
    save_tiny_checkpoint(tmp_path / "model", "lm2", memory_layers=[0, 2])
    args = ["inspect", "--model", str(tmp_path / "model"), "--prompt", "Where is Mary? " * 10]
    assert main([*args, "--out", str(tmp_path / "out"), "--max-tokens", "30", "--blocks", "2"]) == 0
    printed = capsys.readouterr().out
    assert "recorded 1 memory blocks over 30 tokens (4 segments of 8, 8 bank rows)" in printed
    assert "bank row similarity (mean cosine of two rows): 0.000 (M_0) -> " in printed
    trace = MemoryTrace.load(tmp_path / "out" / "trace.pt")
    assert trace.blocks == [2] and trace.read.shape == (1, 1, 30, 8)
    for name in ("read_attention.png", "gates.png", "bank_norms.png"):
        assert (tmp_path / "out" / name).stat().st_size > 5000


def test_inspect_reads_a_model_with_addressed_writes(tmp_path, capsys):
    """memory_write="addressed" has no forget gate and no row per token: the table shows "—" there, the gates'
    picture has their two panels, and the bank norms are recorded as for any LM2."""
    save_tiny_checkpoint(
        tmp_path / "model", "lm2", memory_layers=[0, 2], memory_write="addressed", memory_output="read", input_bias=0.0
    )
    args = ["inspect", "--model", str(tmp_path / "model"), "--prompt", "Where is Mary? " * 10, "--max-tokens", "30"]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "recorded 2 memory blocks over 30 tokens (4 segments of 8, 8 bank rows)" in printed
    rows = [line for line in printed.splitlines() if line.startswith("| 0 |") or line.startswith("| 2 |")]
    assert len(rows) == 2 and all(line.count("—") == 2 for line in rows)
    trace = MemoryTrace.load(tmp_path / "out" / "trace.pt")
    assert trace.gate_forget is None and trace.row_norm is None and trace.read.shape == (2, 1, 30, 8)
    assert trace.read.sum(-1).sub(1).abs().max() < 1e-5  # every block reads every row of the entering bank
    assert (trace.bank_norm[0, 3] - trace.bank_norm[0, 0]).abs().max() > 1e-3  # complete segments wrote it
    assert (tmp_path / "out" / "gates.png").stat().st_size > 5000


@pytest.mark.parametrize(
    "command, message",
    [
        (
            ["convert", "--from-llama", "{llama}", "--out", "{tmp}", "--memory-layers", "a,b"],
            "--memory-layers='a,b'",
        ),
        (["convert", "--from-llama", "{tmp}", "--out", "{tmp}/x"], "no Llama checkpoint"),
        (["convert", "--from-llama", "{config_only}", "--out", "{tmp}/x"], "no safetensors weights"),
        (["inspect", "--model", "{rmt}", "--prompt", "Mary", "--out", "{tmp}/x"], "arch='rmt'"),
        (
            ["inspect", "--model", "{rmt}", "--prompt", "Mary", "--out", "{tmp}/x", "--blocks", "x"],
            "--blocks='x'",
        ),
    ],
)
def test_wrong_inputs_are_named(llama_dir, tmp_path, command, message, caplog):
    save_tiny_checkpoint(tmp_path / "rmt", "rmt")
    places = {"llama": llama_dir, "tmp": tmp_path / "empty", "rmt": tmp_path / "rmt"}
    places["config_only"] = tmp_path / "config_only"
    places["config_only"].mkdir()
    (places["config_only"] / "config.json").write_text((llama_dir / "config.json").read_text())
    (tmp_path / "empty").mkdir()
    assert main([part.format(**places) for part in command]) == 2
    assert message in caplog.text
