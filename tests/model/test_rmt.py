"""RMT specifics (issue 3); the shared properties (causality, streaming, cache, padding, save/load) run
for `rmt` through the variants in tests/conftest.py."""

from __future__ import annotations

import pytest
import torch

from lm2 import LM2Config, LM2ForCausalLM
from lm2.model.flops import parameter_counts, parameter_table
from tests.conftest import TINY, random_ids, tiny_model

SEG = TINY["segment_length"]


def test_memory_positions_give_no_logits_and_no_loss():
    model = tiny_model("rmt")
    ids = random_ids(2, 3 * SEG + 1)
    out = model(ids, labels=ids)
    assert out.logits.shape == (2, 3 * SEG + 1, TINY["vocab_size"])  # a row per input token, none for memory
    logp = torch.log_softmax(out.logits.float(), -1)
    manual = -logp[:, :-1].gather(-1, ids[:, 1:, None]).mean()
    torch.testing.assert_close(out.loss, manual)


def _memory_token_grad(model: LM2ForCausalLM) -> torch.Tensor | None:
    ids = random_ids(1, 4 * SEG)
    labels = torch.full_like(ids, -100)
    labels[:, -SEG:] = ids[:, -SEG:]  # loss on the last segment only
    model(ids, labels=labels).loss.backward()
    return model.model.memory_tokens.grad


def test_gradient_reaches_memory_embeddings_through_several_segments():
    grad = _memory_token_grad(tiny_model("rmt").train())
    assert grad is not None and grad.abs().sum() > 0


def test_bptt_segments_one_stops_gradient_at_the_first_boundary():
    grad = _memory_token_grad(tiny_model("rmt", bptt_segments=1).train())
    assert grad is None or grad.abs().sum() == 0  # no gradient path at all: exact zeros on any CPU


def test_memory_is_written_only_when_a_segment_completes():
    model = tiny_model("rmt")
    ids = random_ids(1, SEG + 2)
    initial = model.model.memory_tokens.detach()
    inside = model(ids[:, : SEG - 1]).memory
    # Mid-segment the state still holds the memory embeddings themselves (no arithmetic): the same bytes.
    assert torch.equal(inside.memory[0], initial)
    done = model(ids[:, :SEG]).memory
    assert (done.memory[0] - initial).abs().max() > 1e-6


def test_parameter_table_matches_built_models():
    config = LM2Config(**{**TINY, "tie_word_embeddings": True})
    table = parameter_table(config)
    for arch, counts in table.items():
        built = LM2ForCausalLM(LM2Config(**{**TINY, "tie_word_embeddings": True, "arch": arch}))
        assert counts["total"] == sum(p.numel() for p in built.parameters())
    assert table["rmt"]["memory"] == TINY["num_memory_tokens"] * TINY["hidden_size"]
    assert table["vanilla"]["memory"] == 0 and table["lm2"]["backbone"] == table["vanilla"]["backbone"]
    assert parameter_counts(config) == table["lm2"]


@pytest.mark.parametrize("bad", [0, -3, 2.5, None])
def test_bad_num_memory_tokens(bad):
    with pytest.raises(ValueError, match=f"num_memory_tokens={bad!r} must be a positive integer"):
        LM2Config(**{**TINY, "arch": "rmt", "num_memory_tokens": bad})
