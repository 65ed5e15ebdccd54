"""Memory inspection records what the model computes (the intermediates the memory returns on request
reproduce the rows and the gated memory it returns in the forward pass), leaves the model unchanged, and plots
to PNG."""

from __future__ import annotations

import pytest
import torch

from lm2.analysis.inspect import MemoryTrace, plot_trace, read_entropy, record_memory
from lm2.model.memory import rms_rows
from tests.conftest import random_ids, tiny_model

LM2_VARIANTS = [
    {},
    {"memory_preset": "paper"},
    {"memory_layers": [0, 2], "memory_query": "attention", "memory_output": "read", "memory_read_center": "split"},
    {"memory_heads": 2, "memory_init": "learned", "memory_gain": 0.5},
]


@pytest.mark.parametrize("overrides", LM2_VARIANTS, ids=["default", "paper", "attention-read-split", "heads2-gain"])
def test_memory_intermediates_reproduce_what_the_model_returns(overrides):
    model = tiny_model("lm2", **overrides)
    steps = []

    def hook(module, args, kwargs, output):
        steps.append((module, kwargs, output, module.forward(**kwargs, return_step=True)))

    blocks = [model.model.layers[i].memory for i in model.config.memory_layer_ids]
    handles = [memory.register_forward_hook(hook, with_kwargs=True) for memory in blocks]
    try:
        state = None
        for piece in random_ids(2, 17).split([4, 9, 4], dim=1):  # segment passes 0-3 | 4-5, 0-5, 0 | 1-4
            state = model(piece, memory=state).memory
    finally:
        for handle in handles:
            handle.remove()
    assert len(steps) == 5 * len(blocks)  # five segment passes, three of them starting inside a segment
    for module, kwargs, output, asked in steps:
        step, rows = asked.step, kwargs["rows"]
        # The explicit read (weights in the open) gives what the fused read gave the model.
        torch.testing.assert_close(asked.rows, output.rows, rtol=0, atol=1e-12)
        torch.testing.assert_close(asked.gated, output.gated, rtol=0, atol=1e-12)
        kept_row = step.gate_forget * rows
        updated = {  # eq. 6 (the paper's preset), or the delta update (the default)
            "paper": step.gate_in * step.candidate + kept_row,
            "delta": kept_row + step.gate_in * (step.candidate - kept_row),
        }[module.update]
        torch.testing.assert_close(output.rows, updated, rtol=0, atol=1e-12)
        torch.testing.assert_close(step.candidate, torch.tanh(step.read), rtol=0, atol=1e-12)
        gain = 1.0 if module.gain is None else module.gain
        kept = rms_rows(rows) if module.read_norm else rows  # the default reads the rows RMS-normalised
        source = kept if module.output == "bank" else step.read
        torch.testing.assert_close(output.gated, gain * step.gate_out * source, rtol=0, atol=1e-12)  # eq. 3
        torch.testing.assert_close(step.weights.sum(-1), torch.ones_like(step.weights[..., 0]))


def test_a_split_read_records_the_mean_as_one_more_column():
    """memory_read_center="split": the first memory block also reads the rows' mean, the trace's last column;
    a later block cannot (weight 0), and every token's read still sums to 1 over what it can see."""
    trace = record_memory(tiny_model("lm2", memory_read_center="split"), random_ids(2, 15))
    assert trace.read.shape == (3, 2, 15, 7) and trace.bank_norm.shape[-1] == 6
    torch.testing.assert_close(trace.read.sum(-1), torch.ones(3, 2, 15))
    assert trace.read[0, ..., 6].min() > 0 and trace.read[1:, ..., 6].abs().max() == 0


def test_a_gated_read_records_the_mean_s_gate_as_the_last_column(tmp_path):
    """memory_read_center="gated": the trace's last column is the gate through which the first memory block adds the
    rows' mean, in (0, 1); the rows' weights still sum to 1, the entropy is theirs alone, and the flag survives
    save / load."""
    trace = record_memory(tiny_model("lm2", memory_read_center="gated"), random_ids(2, 15))
    assert trace.mean_gate and trace.read.shape == (3, 2, 15, 7)
    torch.testing.assert_close(trace.read[..., :6].sum(-1), torch.ones(3, 2, 15))
    gate = trace.read[0, ..., 6]
    assert gate.min() > 0 and gate.max() < 1 and trace.read[1:, ..., 6].abs().max() == 0
    rows = trace.read[..., :6]
    torch.testing.assert_close(read_entropy(trace), -(rows * rows.clamp_min(1e-30).log2()).sum(-1))
    trace.save(tmp_path / "trace.pt")
    assert MemoryTrace.load(tmp_path / "trace.pt").mean_gate


def test_trace_shapes_masks_and_bank_norms():
    model = tiny_model("lm2", memory_heads=2)  # segment_length 6, 3 memory blocks, width 32
    ids = random_ids(2, 20)
    trace = record_memory(model, ids)
    assert trace.blocks == [0, 1, 2] and trace.segments == 4
    assert trace.read.shape == (3, 2, 20, 6)
    for per_token in (trace.gate_in, trace.gate_forget, trace.gate_out, trace.row_norm):
        assert per_token.shape == (3, 2, 20)
    assert trace.bank_norm.shape == (2, 5, 6)
    torch.testing.assert_close(trace.bank_norm[:, 0], torch.ones(2, 6))  # M_0: orthonormal rows
    torch.testing.assert_close(trace.read.sum(-1), torch.ones(3, 2, 20))
    position = torch.arange(20) % 6  # later blocks read only rows j <= i of the segment
    hidden = torch.arange(6)[None, :] > position[:, None]
    assert torch.all(trace.read[1:, :, hidden] == 0) and torch.all(trace.read[0] > 0)  # masked: exact zeros
    with torch.no_grad():  # the bank after each complete segment equals a plain forward's state
        for s in range(1, 4):
            bank = model(ids[:, : 6 * s]).memory.memory
            torch.testing.assert_close(trace.bank_norm[:, s], bank.norm(dim=-1).float())
            cosine = [
                torch.cosine_similarity(bank[:, i], bank[:, j], dim=-1) for i in range(6) for j in range(6) if i != j
            ]
            torch.testing.assert_close(trace.bank_similarity[:, s], torch.stack(cosine).mean(0).float())
    torch.testing.assert_close(trace.bank_similarity[:, 0], torch.zeros(2))  # M_0's rows are orthogonal
    heads = record_memory(model, ids, blocks=[2], keep_heads=True)
    assert heads.read.shape == (1, 2, 2, 20, 6) and read_entropy(heads).shape == (1, 2, 20)
    torch.testing.assert_close(heads.read.mean(2), trace.read[2:])


def test_recording_leaves_the_model_unchanged():
    model = tiny_model("lm2")
    ids = random_ids(1, 15)
    weights = {name: w.clone() for name, w in model.state_dict().items()}
    with torch.no_grad():
        before = model(ids).logits
    record_memory(model, ids)
    assert all(not layer.memory._forward_hooks for layer in model.model.layers)
    assert all(torch.equal(w, weights[name]) for name, w in model.state_dict().items())  # nothing written
    with torch.no_grad():  # a recomputation: equal to fp64 rounding (kernel paths may differ), not bitwise
        torch.testing.assert_close(model(ids).logits, before, rtol=0, atol=1e-12)


def test_trace_saves_and_plots_to_png(tmp_path):
    trace = record_memory(tiny_model("lm2"), random_ids(1, 14))
    trace.save(tmp_path / "trace.pt")
    again = MemoryTrace.load(tmp_path / "trace.pt")
    torch.testing.assert_close(again.read, trace.read)
    pictures = plot_trace(again, tmp_path / "plots")
    assert [p.name for p in pictures] == ["read_attention.png", "gates.png", "bank_norms.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000 for p in pictures)


def test_what_cannot_be_inspected_is_named():
    with pytest.raises(ValueError, match="arch='rmt'"):
        record_memory(tiny_model("rmt"), random_ids(1, 8))
    with pytest.raises(ValueError, match=r"\[0\] without memory"):
        record_memory(tiny_model("lm2", memory_layers=[1]), random_ids(1, 8), blocks=[0])
    with pytest.raises(ValueError, match="sample=3"):
        plot_trace(record_memory(tiny_model("lm2"), random_ids(1, 8)), "unused", sample=3)


def test_the_trace_counts_input_gate_channels_that_are_exactly_shut():
    """`gate_in_shut`: the fraction of g_in's channels exactly 0 — every one for hard gates far past −3, none
    for σ gates at the same bias (never exactly 0) — and it loads from a saved trace (None from an older one)."""
    ids = random_ids(1, 20)
    shut = record_memory(tiny_model("lm2", memory_gates="hard", input_bias=-10.0), ids)
    assert torch.equal(shut.gate_in_shut, torch.ones_like(shut.gate_in_shut)) and (shut.gate_in == 0).all()
    smooth = record_memory(tiny_model("lm2", memory_gates="sigmoid", input_bias=-10.0), ids)
    assert (smooth.gate_in_shut == 0).all()
    partly = record_memory(tiny_model("lm2", memory_gates="hard", input_bias=-3.0), ids)
    assert 0 < partly.gate_in_shut.mean() < 1  # at the edge: the token's own W_in E_t decides
    older = {k: v for k, v in vars(shut).items() if k != "gate_in_shut"}
    assert MemoryTrace(**older).gate_in_shut is None
