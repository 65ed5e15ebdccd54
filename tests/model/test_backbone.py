"""The backbone is Hugging Face Llama: same parameter names, same logits."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from lm2 import LM2Config, LM2ForCausalLM
from lm2.model.backbone import apply_rotary

ROPES = {
    "default": {"rope_type": "default", "rope_theta": 500000.0},
    "llama3": {
        "rope_type": "llama3",
        "rope_theta": 500000.0,
        "factor": 32.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 64,
    },
}


@pytest.mark.parametrize("rope", ROPES)
@pytest.mark.parametrize("tied", [False, True])
def test_vanilla_with_llama_weights_gives_llama_logits(rope, tied):
    shape = dict(
        vocab_size=60,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        rms_norm_eps=1e-5,
        max_position_embeddings=256,
        tie_word_embeddings=tied,
    )
    torch.manual_seed(0)
    llama = LlamaForCausalLM(LlamaConfig(**shape, rope_parameters=dict(ROPES[rope]))).double().eval()
    ours = LM2ForCausalLM(LM2Config(arch="vanilla", segment_length=None, rope_parameters=dict(ROPES[rope]), **shape))
    ours = ours.double().eval()
    ours.load_state_dict(llama.state_dict(), strict=True)  # identical parameter names, nothing missing
    ids = torch.randint(0, 60, (2, 70))
    # Llama's RMSNorm computes in fp32 even for fp64 inputs; ours keeps fp64, hence the 1e-6 tolerance.
    torch.testing.assert_close(ours(ids).logits, llama(ids).logits, rtol=0, atol=1e-6)


def test_rotary_preserves_norm_and_is_relative():
    """Rotated q·k depends only on the position difference."""
    from lm2.model.backbone import RotaryEmbedding

    cfg = LM2Config(hidden_size=32, num_attention_heads=4, segment_length=8)
    rope = RotaryEmbedding(cfg)
    q, k = torch.randn(1, 1, 1, 8, dtype=torch.float64), torch.randn(1, 1, 1, 8, dtype=torch.float64)

    def dot(i, j):
        ci, si = rope(torch.tensor([i]), torch.float64)
        cj, sj = rope(torch.tensor([j]), torch.float64)
        return (apply_rotary(q, ci, si) * apply_rotary(k, cj, sj)).sum()

    torch.testing.assert_close(dot(5, 2), dot(13, 10), rtol=1e-5, atol=1e-5)
    c, s = rope(torch.tensor([7]), torch.float64)
    torch.testing.assert_close(apply_rotary(q, c, s).norm(), q.norm(), rtol=1e-5, atol=1e-5)
