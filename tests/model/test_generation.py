"""`generate` and the incremental cache: the same tokens and logits as full forwards, across segments."""

from __future__ import annotations

import logging
import warnings

import pytest
import torch
from transformers.utils import logging as hf_logging

from tests.conftest import VARIANT_IDS, VARIANTS, random_ids, tiny_model

SEG = 6


@pytest.mark.parametrize(("arch", "overrides"), VARIANTS, ids=VARIANT_IDS)
def test_token_by_token_cache_equals_full_forward(arch, overrides):
    """Feeding one token at a time with the returned state gives the full forward's logits, across
    at least three segment boundaries."""
    model = tiny_model(arch, **overrides)
    ids = random_ids(2, 3 * SEG + 4)
    full = model(ids).logits
    out = model(ids[:, :2])
    state, steps = out.memory, [out.logits]
    for j in range(2, ids.shape[1]):
        out = model(ids[:, j : j + 1], memory=state)
        state = out.memory
        steps.append(out.logits)
    torch.testing.assert_close(torch.cat(steps, 1), full, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("arch", "overrides"), VARIANTS, ids=VARIANT_IDS)
def test_greedy_generate_follows_argmax_of_full_forwards(arch, overrides):
    model = tiny_model(arch, **overrides)
    prompt = random_ids(1, SEG - 2)
    new = 3 * SEG + 1  # crosses three segment boundaries while generating
    generated = model.generate(prompt, max_new_tokens=new, do_sample=False)
    seq = prompt
    for _ in range(new):
        seq = torch.cat([seq, model(seq).logits[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(generated, seq)


def test_generate_scores_equal_full_forward_logits():
    model = tiny_model("lm2")
    prompt = random_ids(1, 4)
    out = model.generate(
        prompt, max_new_tokens=2 * SEG, do_sample=False, output_logits=True, return_dict_in_generate=True
    )
    full = model(out.sequences).logits
    steps = torch.stack(out.logits, 1)  # (1, new, vocab): logits that chose each new token
    torch.testing.assert_close(steps, full[:, prompt.shape[1] - 1 : -1].float(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize(("arch", "overrides"), VARIANTS[:1] + VARIANTS[4:6], ids=VARIANT_IDS[:1] + VARIANT_IDS[4:6])
def test_padded_batch_generate_equals_each_sample_alone(arch, overrides, side):
    model = tiny_model(arch, **overrides)
    lengths, width = [SEG + 3, 2, 2 * SEG - 1], 2 * SEG - 1
    ids = random_ids(3, width)
    padded = torch.zeros(3, width, dtype=torch.long)
    mask = torch.zeros_like(padded)
    for i, n in enumerate(lengths):
        cols = slice(width - n, width) if side == "left" else slice(0, n)
        padded[i, cols], mask[i, cols] = ids[i, :n], 1
    batch = model.generate(padded, attention_mask=mask, max_new_tokens=2 * SEG, do_sample=False, pad_token_id=0)
    for i, n in enumerate(lengths):
        alone = model.generate(ids[i : i + 1, :n], max_new_tokens=2 * SEG, do_sample=False)
        assert torch.equal(batch[i, width:], alone[0, n:])


def test_generate_continues_a_memory_state():
    """generate(B, memory=state after A) == the continuation of generate(A + B)."""
    model = tiny_model("lm2")
    ids = random_ids(1, 2 * SEG + 3)
    state = model(ids[:, : SEG + 1]).memory
    resumed = model.generate(ids[:, SEG + 1 :], memory=state, max_new_tokens=SEG, do_sample=False)
    whole = model.generate(ids, max_new_tokens=SEG, do_sample=False)
    assert torch.equal(resumed[:, -SEG:], whole[:, -SEG:])


@pytest.mark.parametrize("arch", ["lm2", "rmt", "vanilla"])
def test_beam_search_scores_match_full_forward(arch):
    """Beam search reorders the cache correctly: each returned beam's score is the log-probability that
    full forwards give that sequence (length_penalty=0: plain sum), across segment boundaries."""
    model = tiny_model(arch)
    prompt = random_ids(2, 4)
    out = model.generate(
        prompt,
        num_beams=3,
        num_return_sequences=3,
        do_sample=False,
        max_new_tokens=2 * SEG,
        length_penalty=0.0,
        output_scores=True,
        return_dict_in_generate=True,
    )
    seq = out.sequences
    logp = torch.log_softmax(model(seq).logits.float(), -1)
    new = seq[:, prompt.shape[1] :]
    total = logp[:, prompt.shape[1] - 1 : -1].gather(-1, new[..., None]).sum((1, 2))
    torch.testing.assert_close(out.sequences_scores.float(), total, rtol=0, atol=1e-4)
    assert (out.sequences_scores.view(2, 3).diff(dim=1) <= 1e-6).all()  # best beam first


def test_sampling_is_seeded_and_uses_the_cache():
    model = tiny_model("lm2")
    prompt = random_ids(2, 3)
    torch.manual_seed(3)
    a = model.generate(prompt, do_sample=True, top_k=10, max_new_tokens=2 * SEG)
    torch.manual_seed(3)
    b = model.generate(prompt, do_sample=True, top_k=10, max_new_tokens=2 * SEG)
    torch.manual_seed(3)
    c = model.generate(prompt, do_sample=True, top_k=10, max_new_tokens=2 * SEG, use_cache=False)
    assert torch.equal(a, b) and torch.equal(a, c)


@pytest.mark.parametrize(
    ("arch", "mode", "warned"), [("lm2", "full", False), ("vanilla", "segmented", False), ("vanilla", "full", True)]
)
def test_segmented_generation_has_no_maximum_length(caplog, arch, mode, warned):
    """Generating past 2048 tokens (32 segments of prompt, then across a segment boundary) gives a segmented
    model no "exceeded the model's predefined maximum length" warning: it has none. Full attention keeps
    its maximum and the warning, which also shows that the capture below sees it."""
    model = tiny_model(arch, vanilla_mode=mode, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                       num_attention_heads=2, num_key_value_heads=1, segment_length=64)  # fmt: skip
    prompt = random_ids(1, 2040)
    library = hf_logging.get_logger("transformers")  # transformers' loggers do not propagate to the root
    hf_logging.warning_once.cache_clear()  # the warning is logged once per process: make this call see it
    caplog.set_level(logging.WARNING, logger="transformers")
    library.addHandler(caplog.handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = model.generate(prompt, max_new_tokens=16, do_sample=False)
    finally:
        library.removeHandler(caplog.handler)
    assert out.shape == (1, 2056)
    messages = [r.getMessage() for r in caplog.records] + [str(w.message) for w in caught]
    assert any("maximum length" in m for m in messages) == warned, messages
