"""Converting a Hugging Face Llama checkpoint: every weight is kept and the lm2 model starts with exactly
the Llama's logits (within one segment), while its memory can learn; the real Llama-3.2-1B config builds."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from lm2 import LM2ForCausalLM
from lm2.integrations.convert import (
    compare_with_llama,
    convert_llama,
    is_memory_parameter,
    memory_config_from_llama,
    save_converted,
)
from lm2.integrations.pretrained import load_pretrained
from tests.integrations.tiny_checkpoint import tiny_tokenizer

SEGMENT = 16
LLAMA3_ROPE = {
    "rope_type": "llama3",
    "rope_theta": 500000.0,
    "factor": 32.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 64,
}
# config.json of meta-llama/Llama-3.2-1B as published (the values the issue names).
LLAMA_3_2_1B = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 128000,
    "eos_token_id": 128001,
    "head_dim": 64,
    "hidden_act": "silu",
    "hidden_size": 2048,
    "initializer_range": 0.02,
    "intermediate_size": 8192,
    "max_position_embeddings": 131072,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 32,
    "num_hidden_layers": 16,
    "num_key_value_heads": 8,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {
        "factor": 32.0,
        "high_freq_factor": 4.0,
        "low_freq_factor": 1.0,
        "original_max_position_embeddings": 8192,
        "rope_type": "llama3",
    },
    "rope_theta": 500000.0,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.45.0.dev0",
    "use_cache": True,
    "vocab_size": 128256,
}
LLAMA_3_2_1B_PARAMETERS = 1_235_814_400


@pytest.fixture(scope="module", params=[True, False], ids=["tied", "untied"])
def llama_dir(request, tmp_path_factory):
    """A tiny random Llama-3-style checkpoint (llama3 rope, GQA) saved as safetensors, with a tokenizer."""
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5, initializer_range=0.1,
        tie_word_embeddings=request.param, rope_parameters=dict(LLAMA3_ROPE), bos_token_id=1, eos_token_id=2,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("llama")
    LlamaForCausalLM(config).save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    assert (path / "model.safetensors").is_file()
    return path


def llama_logits(path, ids):
    llama = LlamaForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    with torch.no_grad():
        return llama(ids).logits


def test_converted_lm2_has_the_llamas_logits_within_a_segment(llama_dir):
    model = convert_llama(llama_dir, "lm2", segment_length=SEGMENT, dtype="float32")
    ids = torch.randint(0, 300, (2, SEGMENT), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = model(ids).logits
    torch.testing.assert_close(ours, llama_logits(llama_dir, ids), rtol=0, atol=1e-6)
    assert compare_with_llama(model, llama_dir, length=SEGMENT)["max_abs_diff"] <= 1e-6


def test_beyond_a_segment_lm2_is_the_segmented_llama_not_the_full_one(llama_dir):
    """The documented boundary: attention is per segment, the memory adds exactly nothing at the start."""
    lm2 = convert_llama(llama_dir, "lm2", segment_length=SEGMENT, dtype="float32")
    segmented = convert_llama(llama_dir, "vanilla", dtype="float32")
    segmented.config.vanilla_mode, segmented.config.segment_length = "segmented", SEGMENT
    ids = torch.randint(0, 300, (1, 3 * SEGMENT + 5), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(lm2(ids).logits, segmented(ids).logits, rtol=0, atol=1e-6)
        assert (lm2(ids).logits - llama_logits(llama_dir, ids)).abs().max() > 1e-3


def test_memory_starts_switched_off_but_learns(llama_dir):
    model = convert_llama(llama_dir, "lm2", segment_length=SEGMENT, dtype="float32").train()
    memory = model.model.layers[1].memory
    # Values written at initialisation, not computed: exact on any CPU.
    assert torch.all(memory.gain == 0) and torch.all(memory.forget_gate.bias == model.config.forget_bias)
    assert 0.05 < memory.q_proj.weight.std() < 0.2  # initializer_range 0.1 of the Llama
    ids = torch.randint(0, 300, (2, 2 * SEGMENT), generator=torch.Generator().manual_seed(3))
    model(ids, labels=ids).loss.backward()
    assert memory.gain.grad.abs().sum() > 0  # the gain learns from the first step ...
    assert memory.q_proj.weight.grad is None or memory.q_proj.weight.grad.abs().sum() == 0  # x gain 0: exact 0
    with torch.no_grad():  # ... and once it moves, the whole memory path receives gradient
        for layer in model.model.layers:
            layer.memory.gain -= 0.01 * layer.memory.gain.grad.sign()
    model.zero_grad()
    model(ids, labels=ids).loss.backward()
    assert memory.q_proj.weight.grad.abs().sum() > 0


def test_every_llama_weight_is_kept_in_every_arch(llama_dir):
    source = LlamaForCausalLM.from_pretrained(llama_dir, dtype=torch.float32).state_dict()
    for arch in ("lm2", "rmt", "armt", "vanilla"):
        converted = convert_llama(llama_dir, arch, segment_length=SEGMENT, dtype="float32").state_dict()
        for name, weight in source.items():  # copied in the dtype they were saved in: the same bytes
            assert torch.equal(converted[name], weight), name
        assert all(is_memory_parameter(n) for n in set(converted) - set(source))


def test_vanilla_conversion_is_the_llama_at_any_length(llama_dir):
    model = convert_llama(llama_dir, "vanilla", dtype="float32")
    ids = torch.randint(0, 300, (2, 100), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, llama_logits(llama_dir, ids), rtol=0, atol=1e-5)


def test_converted_armt_is_the_llama_within_a_segment_and_its_read_learns(llama_dir):
    """ARMT's memory tokens only write (segment tokens never see them) and its read starts behind a gain of
    0: the Llama's logits within a segment, the segmented Llama's beyond, and the gain learns."""
    model = convert_llama(llama_dir, "armt", segment_length=SEGMENT, num_memory_tokens=4, dtype="float32")
    assert model.config.armt_read_gain == 0.0 and model.config.armt_memory_tokens == "write"
    assert all(torch.all(layer.associative.gain == 0) for layer in model.model.layers)  # written, not computed
    assert compare_with_llama(model, llama_dir, length=SEGMENT)["max_abs_diff"] <= 1e-6
    segmented = convert_llama(llama_dir, "vanilla", dtype="float32")
    segmented.config.vanilla_mode, segmented.config.segment_length = "segmented", SEGMENT
    ids = torch.randint(0, 300, (2, 3 * SEGMENT + 5), generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, segmented(ids).logits, rtol=0, atol=1e-6)
    model.train()
    model(ids, labels=ids).loss.backward()
    assert all(layer.associative.gain.grad.abs().sum() > 0 for layer in model.model.layers)


def test_rmt_conversion_starts_from_zero_memory_and_its_deviation_is_measured(llama_dir):
    """Memory tokens in the same softmax always take attention mass: no exact identity (docs say so)."""
    model = convert_llama(llama_dir, "rmt", segment_length=SEGMENT, num_memory_tokens=4, dtype="float32")
    assert torch.all(model.model.memory_tokens == 0)  # written as zeros, not computed
    check = compare_with_llama(model, llama_dir, length=SEGMENT)
    assert 0 < check["max_abs_diff"] < 10 * check["max_logit"]


def test_saved_conversion_loads_with_its_tokenizer_and_same_logits(llama_dir, tmp_path):
    model = convert_llama(llama_dir, "lm2", segment_length=SEGMENT, dtype="float32")
    files = save_converted(model, llama_dir, tmp_path)
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(files)
    again, tokenizer = load_pretrained(tmp_path)
    saved = model.state_dict()
    assert all(torch.equal(again.state_dict()[name], saved[name]) for name in saved)  # a file keeps the bytes
    ids = torch.tensor([tokenizer.encode("Mary moved to the bathroom.")])
    with torch.no_grad():  # recomputed by a new instance: fp32 rounding apart at most, not bitwise on every CPU
        torch.testing.assert_close(again(ids).logits, model(ids).logits, rtol=1e-5, atol=1e-5)


def test_llama_3_2_1b_config_is_accepted_and_builds_on_the_meta_device():
    config = memory_config_from_llama(LLAMA_3_2_1B, "lm2")
    assert (config.hidden_size, config.num_hidden_layers, config.num_key_value_heads) == (2048, 16, 8)
    assert config.rope_parameters["rope_type"] == "llama3" and config.rope_parameters["factor"] == 32.0
    assert config.rope_parameters["original_max_position_embeddings"] == 8192
    assert config.rope_parameters["rope_theta"] == 500000.0 and config.tie_word_embeddings
    assert (config.segment_length, config.memory_gain, config.pad_token_id) == (2048, 0.0, None)
    with torch.device("meta"):
        llama = LlamaForCausalLM(LlamaConfig.from_dict(LLAMA_3_2_1B))
        for arch in ("lm2", "rmt", "armt"):
            model = LM2ForCausalLM(memory_config_from_llama(LLAMA_3_2_1B, arch))
            names = dict(model.named_parameters())
            backbone = sum(p.numel() for n, p in names.items() if not is_memory_parameter(n))
            assert backbone == LLAMA_3_2_1B_PARAMETERS
            assert set(llama.state_dict()) <= set(model.state_dict())


@pytest.mark.parametrize(
    "change, message",
    [
        ({"model_type": "mistral"}, "model_type='mistral'"),
        ({"hidden_act": "gelu"}, "hidden_act='gelu'"),
    ],
)
def test_what_cannot_convert_is_named(change, message):
    with pytest.raises(ValueError, match=message):
        memory_config_from_llama({**LLAMA_3_2_1B, **change}, "lm2")
    with pytest.raises(ValueError, match="arch='gpt'"):
        memory_config_from_llama(LLAMA_3_2_1B, "gpt")
