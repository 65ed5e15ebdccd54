"""The LM2 memory block itself: initial bank, gates, precision."""

from __future__ import annotations

import pytest
import torch

from lm2.model.memory import initial_bank
from tests.conftest import random_ids, tiny_model


@pytest.mark.parametrize(("slots", "width"), [(32, 32), (6, 32), (40, 32)])
def test_initial_bank(slots, width):
    bank = initial_bank(slots, width, torch.float64)
    assert bank.shape == (slots, width)
    torch.testing.assert_close(bank.norm(dim=-1), torch.ones(slots, dtype=torch.float64))
    if slots == width:
        torch.testing.assert_close(bank, torch.eye(width, dtype=torch.float64))
    if slots <= width:  # orthonormal rows
        torch.testing.assert_close(bank @ bank.T, torch.eye(slots, dtype=torch.float64))
    torch.testing.assert_close(initial_bank(slots, width, torch.float64), bank, rtol=0, atol=0)


def test_fresh_state_starts_from_m0_per_sample():
    model = tiny_model("lm2")
    state = model.model.initial_state(3, torch.device("cpu"))
    assert state.memory.shape == (3, 6, 32)
    torch.testing.assert_close(state.memory[2], initial_bank(6, 32, torch.float64))


def test_gates_shut_input_open_forget_leave_bank_unchanged():
    """Input gate forced to 0 and forget gate to 1: M_{t+1} = M_t in every block, over several segments."""
    model = tiny_model("lm2")
    with torch.no_grad():
        for layer in model.model.layers:
            layer.memory.in_gate.weight.zero_()
            layer.memory.in_gate.bias.fill_(-1e4)
            layer.memory.forget_gate.weight.zero_()
            layer.memory.forget_gate.bias.fill_(1e4)
    out = model(random_ids(2, 3 * 6 + 2))
    m0 = model.model.initial_state(2, torch.device("cpu")).memory
    torch.testing.assert_close(out.memory.memory, m0, rtol=0, atol=0)


def test_bank_changes_when_gates_open():
    out = tiny_model("lm2")(random_ids(1, 6))
    m0 = initial_bank(6, 32, torch.float64)
    assert (out.memory.memory[0] - m0).abs().max() > 1e-3


def test_forget_gate_starts_keeping_memory():
    model = tiny_model("lm2")
    bias = model.model.layers[0].memory.forget_gate.bias
    torch.testing.assert_close(bias, torch.ones_like(bias))


def test_bank_and_gates_stay_fp32_under_bf16_autocast():
    model = tiny_model("lm2", dtype=torch.float32)
    ids = random_ids(2, 2 * 6 + 1)
    seen = []
    hook = model.model.layers[1].memory.register_forward_hook(lambda mod, args, out: seen.append(out))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(ids)
    hook.remove()
    gated, rows, key, value = seen[0]
    assert out.memory.memory.dtype == torch.float32
    assert gated.dtype == rows.dtype == key.dtype == value.dtype == torch.float32
    reference = model(ids)
    torch.testing.assert_close(out.memory.memory, reference.memory.memory, rtol=0.05, atol=0.05)
    assert out.logits.dtype == torch.bfloat16


def test_bf16_model_keeps_an_fp32_bank():
    model = tiny_model("lm2", dtype=torch.bfloat16)
    out = model(random_ids(1, 8))
    assert out.memory.memory.dtype == torch.float32 and torch.isfinite(out.logits.float()).all()


@pytest.mark.parametrize("arch", ["lm2", "rmt", "vanilla"])
def test_every_arch_runs_and_streams_under_bf16_autocast(arch):
    model = tiny_model(arch, dtype=torch.float32)
    ids = random_ids(2, 2 * 6 + 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        whole = model(ids, labels=ids)
        first = model(ids[:, :7])
        rest = model(ids[:, 7:], memory=first.memory)
        whole.loss.backward()
    assert torch.isfinite(whole.loss)
    stream = torch.cat([first.logits, rest.logits], 1).float()
    torch.testing.assert_close(stream, whole.logits.float(), rtol=0.05, atol=0.05)


def test_memory_gain_zero_switches_memory_off_exactly_but_learns():
    """memory_gain=0: the model equals the same backbone without memory, and the gain gets gradient."""
    gated = tiny_model("lm2", memory_gain=0.0).train()
    plain = tiny_model("vanilla", vanilla_mode="segmented")
    plain.load_state_dict(gated.state_dict(), strict=False)
    ids = random_ids(2, 2 * 6 + 3)
    out = gated(ids, labels=ids)
    torch.testing.assert_close(out.logits, plain(ids).logits, rtol=0, atol=1e-12)
    out.loss.backward()
    assert gated.model.layers[1].memory.gain.grad.abs().sum() > 0
