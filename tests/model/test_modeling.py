"""Properties of `LM2ForCausalLM.forward` that users rely on, for every architecture and variant."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import AutoModelForCausalLM

from lm2 import LM2ForCausalLM, MemoryState
from tests.conftest import VARIANT_IDS, VARIANTS, random_ids, tiny_model

SEG = 6  # tiny segment length (conftest.TINY)
LENGTH = 4 * SEG - 1  # four segments, the last one ragged


def perturb(ids: torch.Tensor, k: int) -> torch.Tensor:
    out = ids.clone()
    out[:, k] = 4 + (out[:, k] - 4 + 17) % 46
    return out


# ---------------------------------------------------------------- causality
@pytest.mark.parametrize("k", [1, SEG - 1, SEG, 2 * SEG + 3, LENGTH - 1])
def test_causal_by_perturbation(variant, k):
    """Changing token k changes no logit before k, within a segment and across >= 3 segments."""
    ids = random_ids(2, LENGTH)
    base = variant(ids).logits
    moved = variant(perturb(ids, k)).logits
    assert torch.equal(moved[:, :k], base[:, :k]) or (moved[:, :k] - base[:, :k]).abs().max() < 1e-12
    assert (moved[:, k:] - base[:, k:]).abs().max() > 1e-6  # the perturbation is visible from k on


@pytest.mark.parametrize(
    ("arch", "overrides", "carries"),
    [
        ("lm2", {}, True),
        ("lm2", {"memory_layers": [2]}, True),
        ("rmt", {}, True),
        ("vanilla", {}, True),
        ("vanilla", {"vanilla_mode": "segmented"}, False),
    ],
)
def test_information_crosses_segments_only_through_memory(arch, overrides, carries):
    """A token of segment 0 reaches segment 3 through the memory (lm2, rmt) or full attention (vanilla);
    the segmented model without memory is blind to it."""
    model = tiny_model(arch, **overrides)
    ids = random_ids(1, LENGTH)
    delta = (model(perturb(ids, 0)).logits - model(ids).logits)[:, 3 * SEG :].abs().max()
    assert (delta > 1e-6) == carries


# ---------------------------------------------------------------- streaming
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(1, LENGTH - 1), min_size=1, max_size=5, unique=True))
@pytest.mark.parametrize(("arch", "overrides"), VARIANTS, ids=VARIANT_IDS)
def test_chunked_stream_equals_whole(arch, overrides, cuts):
    """forward(A+B+...) == forward(A), then forward(B, memory=...) ..., wherever the chunks are cut."""
    model = tiny_model(arch, **overrides)
    ids = random_ids(2, LENGTH)
    whole = model(ids)
    bounds = [0, *sorted(cuts), LENGTH]
    state, logits = None, []
    for a, z in zip(bounds[:-1], bounds[1:], strict=True):
        out = model(ids[:, a:z], memory=state)
        state = out.memory
        logits.append(out.logits)
    torch.testing.assert_close(torch.cat(logits, 1), whole.logits, rtol=0, atol=1e-10)
    if whole.memory.memory is not None:
        torch.testing.assert_close(state.memory, whole.memory.memory, rtol=0, atol=1e-10)
    assert torch.equal(state.offset, whole.memory.offset)


def test_state_is_per_call_not_on_the_module():
    """Two identical calls give identical results: nothing is kept on the module between calls."""
    model = tiny_model("lm2")
    ids = random_ids(2, LENGTH)
    first = model(ids).logits
    model(random_ids(2, LENGTH, seed=9))
    # A recomputation, so not promised bitwise (a CPU's kernels may take another path); a kept state would
    # move the logits by far more than 1e-12.
    torch.testing.assert_close(model(ids).logits, first, rtol=0, atol=1e-12)


def test_detach_keeps_values_and_cuts_graph():
    model = tiny_model("lm2").train()
    state = model(random_ids(1, SEG + 2)).memory
    assert state.memory.requires_grad
    cut = state.detach()
    assert not cut.memory.requires_grad and torch.equal(cut.memory, state.memory)  # same storage: same bytes


# ---------------------------------------------------------------- batches and padding
def test_batch_isolation(variant):
    """A sample's logits do not depend on the other samples of the batch."""
    ids = random_ids(3, LENGTH)
    batch = variant(ids).logits
    for i in range(3):
        torch.testing.assert_close(variant(ids[i : i + 1]).logits[0], batch[i], rtol=0, atol=1e-10)


@pytest.mark.parametrize("side", ["left", "right"])
def test_padded_batch_equals_each_sample_alone(variant, side):
    """Samples of different lengths (crossing segment boundaries at different places), padded on either
    side, get exactly the logits and final state they get alone."""
    lengths = [LENGTH, 2 * SEG + 1, SEG - 2]
    ids = random_ids(3, LENGTH)
    padded = torch.zeros(3, LENGTH, dtype=torch.long)
    mask = torch.zeros(3, LENGTH, dtype=torch.long)
    for i, n in enumerate(lengths):
        cols = slice(LENGTH - n, LENGTH) if side == "left" else slice(0, n)
        padded[i, cols], mask[i, cols] = ids[i, :n], 1
    out = variant(padded, attention_mask=mask)
    for i, n in enumerate(lengths):
        alone = variant(ids[i : i + 1, :n])
        cols = slice(LENGTH - n, LENGTH) if side == "left" else slice(0, n)
        torch.testing.assert_close(out.logits[i, cols], alone.logits[0], rtol=0, atol=1e-10)
        if side == "right":  # pads after a sample repeat its last prediction (so generate() works)
            torch.testing.assert_close(out.logits[i, n:], alone.logits[0, -1:].expand(LENGTH - n, -1))
        if alone.memory.memory is not None:
            torch.testing.assert_close(out.memory.memory[i], alone.memory.memory[0], rtol=0, atol=1e-10)
        assert int(out.memory.offset[i]) == int(alone.memory.offset[0])


def test_padded_state_continues_each_sample():
    """A state from a padded batch continues each sample exactly (per-sample offsets inside segments)."""
    model = tiny_model("lm2")
    ids = random_ids(2, 20)
    mask = torch.ones(2, 9, dtype=torch.long)
    mask[1, :4] = 0  # sample 1 has 5 tokens, sample 0 has 9
    first = model(ids[:, :9], attention_mask=mask)
    second = model(ids[:, 9:], memory=first.memory)
    whole0 = model(ids[0:1]).logits[0, 9:]
    whole1 = model(torch.cat([ids[1:2, 4:9], ids[1:2, 9:]], 1)).logits[0, 5:]
    torch.testing.assert_close(second.logits[0], whole0, rtol=0, atol=1e-10)
    torch.testing.assert_close(second.logits[1], whole1, rtol=0, atol=1e-10)


def test_pads_never_write_to_the_bank():
    model = tiny_model("lm2")
    ids = random_ids(1, SEG + 3)
    mask = torch.ones_like(ids)
    mask[:, SEG:] = 0  # one full segment, then pads
    padded = model(ids, attention_mask=mask).memory
    alone = model(ids[:, :SEG]).memory
    torch.testing.assert_close(padded.memory, alone.memory, rtol=0, atol=1e-12)


# ---------------------------------------------------------------- loss and gradients
def test_loss_ignores_padding_and_matches_manual():
    model = tiny_model("lm2", write_penalty=0.0)  # the cross-entropy alone (the write cost: test_reference.py)
    ids = random_ids(2, 10)
    mask = torch.ones_like(ids)
    mask[0, :3] = 0
    out = model(ids, attention_mask=mask, labels=ids)
    logp = torch.log_softmax(out.logits.float(), -1)
    terms = [-logp[0, j, ids[0, j + 1]] for j in range(3, 9)] + [-logp[1, j, ids[1, j + 1]] for j in range(9)]
    torch.testing.assert_close(out.loss, torch.stack(terms).mean())


@settings(max_examples=6, deadline=None)
@given(
    cut=st.integers(1, 3),
    pads=st.lists(st.integers(0, 8), min_size=4, max_size=4),
    unscored=st.lists(st.integers(0, 4), min_size=4, max_size=4),
)
def test_accumulated_gradient_with_num_items_in_batch_equals_the_one_batch_gradient(cut, pads, unscored):
    """The Hugging Face Trainer's loss contract: micro-batch losses summed over their targets and divided by
    the whole batch's count (`num_items_in_batch`) add up to the one-batch gradient, whatever the split and
    however unevenly the targets fall (padding, unscored prompt tokens). The default write cost
    (`write_penalty` 0.1, here without its warm-up) is taken per target then, and adds up the same way."""
    model = tiny_model("lm2", write_penalty_warmup=0).train()
    assert model.config.write_penalty > 0
    ids = random_ids(4, 14)
    mask, labels = torch.ones_like(ids), ids.clone()
    for row, (pad, skip) in enumerate(zip(pads, unscored, strict=True)):
        mask[row, 14 - pad :] = 0  # right padding, as a data collator makes it
        labels[row, 14 - pad :] = -100
        labels[row, :skip] = -100  # a prompt that is not scored
    count = int((labels[:, 1:] != -100).sum())  # what the Trainer counts for a causal LM

    def gradient(parts):
        model.zero_grad()
        for part in parts:
            items = torch.tensor(count)
            model(ids[part], attention_mask=mask[part], labels=labels[part], num_items_in_batch=items).loss.backward()
        return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    whole = gradient([slice(0, 4)])
    accumulated = gradient([slice(0, cut), slice(cut, 4)])
    torch.testing.assert_close(accumulated, whole, rtol=0, atol=1e-12)  # float64: rounding only


def _grad_norms(model: LM2ForCausalLM, ids: torch.Tensor):
    """Gradient of the loss on the last segment wrt the first segment's embeddings and M_0 (models without a
    write cost, whose gradient reaches every segment's gates directly)."""
    embeds = {}

    def keep(module, inputs, output):
        output.retain_grad()
        embeds.setdefault("first", output)

    handle = model.model.embed_tokens.register_forward_hook(keep)
    labels = torch.full_like(ids, -100)
    labels[:, -SEG:] = ids[:, -SEG:]
    model(ids, labels=labels).loss.backward()
    handle.remove()
    first = embeds["first"].grad[:, :SEG].abs().sum()
    bank = model.model.memory_init.grad
    return first, None if bank is None else bank.abs().sum()


def test_backprop_reaches_first_segment_and_initial_bank():
    model = tiny_model("lm2", memory_init="learned", write_penalty=0.0).train()
    first, bank = _grad_norms(model, random_ids(1, 4 * SEG))
    assert first > 0 and bank > 0


def test_bptt_segments_one_stops_gradient_at_segment_boundary():
    model = tiny_model("lm2", memory_init="learned", bptt_segments=1, write_penalty=0.0).train()
    first, bank = _grad_norms(model, random_ids(1, 4 * SEG))
    assert first == 0 and bank == 0  # no gradient path at all: exact zeros on any CPU


@pytest.mark.parametrize("penalty", [0.0, 0.5])
def test_segment_checkpointing_gives_same_gradients(penalty):
    """Also with a write cost: the tally leaves each checkpointed segment as an output, so its gradient
    reaches the input gates through the recomputation."""
    ids = random_ids(2, 3 * SEG + 2)
    grads = []
    for flag in (False, True):
        model = tiny_model("lm2", segment_checkpointing=flag, write_penalty=penalty, write_penalty_warmup=0).train()
        model(ids, labels=ids).loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("arch", ["lm2", "rmt", "vanilla"])
def test_tiny_model_overfits_tiny_batch(arch):
    model = tiny_model(arch, dtype=torch.float32).train()
    ids = random_ids(4, 3 * SEG)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    start = model(ids, labels=ids).loss.item()
    for _ in range(60):
        opt.zero_grad()
        loss = model(ids, labels=ids).loss
        loss.backward()
        opt.step()
    assert loss.item() < 0.25 * start


# ---------------------------------------------------------------- save / load
@pytest.mark.parametrize(("arch", "overrides"), VARIANTS, ids=VARIANT_IDS)
def test_save_load_identity(tmp_path, arch, overrides):
    model = tiny_model(arch, **overrides)
    ids = random_ids(2, LENGTH)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    for loaded in (LM2ForCausalLM.from_pretrained(tmp_path), AutoModelForCausalLM.from_pretrained(tmp_path)):
        assert isinstance(loaded, LM2ForCausalLM)
        loaded = loaded.to(torch.float64).eval()
        loaded.generation_config.eos_token_id = None
        saved, weights = model.state_dict(), loaded.state_dict()
        assert weights.keys() == saved.keys()
        # A file round trip keeps every tensor's bytes, on any CPU: the weights are bitwise the same ...
        assert all(torch.equal(weights[name], saved[name]) for name in saved)
        # ... but a new instance recomputes the logits, and kernels may take another path (memory alignment):
        # the same up to float64 rounding, not bitwise (1e-16 apart on an AMD EPYC).
        torch.testing.assert_close(loaded(ids).logits, model(ids).logits, rtol=0, atol=1e-12)
        torch.testing.assert_close(
            loaded.generate(ids[:, :5], max_new_tokens=8), model.generate(ids[:, :5], max_new_tokens=8)
        )


def test_memory_state_object():
    model = tiny_model("lm2")
    state = model(random_ids(3, SEG + 2)).memory
    assert isinstance(state, MemoryState) and state.batch_size == 3
    picked = state.index_select(torch.tensor([2, 0]))
    torch.testing.assert_close(picked.memory, state.memory[[2, 0]])
    assert picked.layers[0].key.shape[0] == 2
    assert state.repeat_interleave(2).batch_size == 6
