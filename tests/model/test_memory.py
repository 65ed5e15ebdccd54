"""The LM2 memory block itself: initial bank, gates, precision."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from lm2.model.config import MEMORY_PRESETS, MEMORY_WRITES, LM2Config
from lm2.model.flops import forward_flops_per_token, parameter_counts
from lm2.model.memory import (
    accumulate_writes,
    address_rows,
    apply_delta_writes,
    apply_ordered_writes,
    apply_writes,
    cosine_address,
    delta_address,
    delta_errors,
    delta_rates,
    initial_bank,
    read_gated_mean,
    read_rows,
    reopening_hardsigmoid,
)
from tests.conftest import VARIANTS, random_ids, tiny_model


@pytest.mark.parametrize(("slots", "width"), [(32, 32), (6, 32), (40, 32)])
def test_initial_bank(slots, width):
    bank = initial_bank(slots, width, torch.float64)
    assert bank.shape == (slots, width)
    torch.testing.assert_close(bank.norm(dim=-1), torch.ones(slots, dtype=torch.float64))
    if slots == width:
        torch.testing.assert_close(bank, torch.eye(width, dtype=torch.float64))
    if slots <= width:  # orthonormal rows
        torch.testing.assert_close(bank @ bank.T, torch.eye(slots, dtype=torch.float64))
    # Deterministic: eye, or the same seeded draw and the same ops again in this process, so the same bytes.
    assert torch.equal(initial_bank(slots, width, torch.float64), bank)


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
    # Exact on any IEEE CPU: exp(+-1e4) overflows/underflows, so the gates are exactly 0 and 1, and eq. 6 gives
    # 0 * tanh(.) + 1 * M_t = M_t's bytes; rows no token writes are copied.
    assert torch.equal(out.memory.memory, m0)


def test_bank_changes_when_gates_open():
    out = tiny_model("lm2")(random_ids(1, 6))
    m0 = initial_bank(6, 32, torch.float64)
    assert (out.memory.memory[0] - m0).abs().max() > 1e-3


def test_gate_biases_start_at_their_config_values():
    """The default gates start by keeping (forget bias +3, input bias −3: the edges of the hard gates' linear
    range), the paper's preset at +1 and 0, a stated value as stated; in every memory block, with the output
    gate's bias at 0."""
    cases = (
        ({}, 3.0, -3.0),
        ({"memory_preset": "paper"}, 1.0, 0.0),
        ({"forget_bias": 2.5, "input_bias": -1.5}, 2.5, -1.5),
    )
    for overrides, forget, write in cases:
        for layer in tiny_model("lm2", **overrides).model.layers:
            memory = layer.memory
            assert torch.all(memory.forget_gate.bias == forget) and torch.all(memory.in_gate.bias == write)
            assert torch.all(memory.out_gate.bias == 0.0)


def test_bank_and_gates_stay_fp32_under_bf16_autocast():
    model = tiny_model("lm2", dtype=torch.float32)
    ids = random_ids(2, 2 * 6 + 1)
    seen = []
    hook = model.model.layers[1].memory.register_forward_hook(lambda mod, args, out: seen.append(out))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(ids)
    hook.remove()
    step = seen[0]
    assert out.memory.memory.dtype == torch.float32
    assert step.gated.dtype == step.rows.dtype == step.key.dtype == step.value.dtype == torch.float32
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


# ---------------------------------------------------------------------- memory at length (DESIGN §2, §8)
PAPER = MEMORY_PRESETS["paper"]  # the paper's memory fields, each test changing one or two of them


@pytest.mark.parametrize("update", ["mean", "delta"])
@torch.no_grad()
def test_bounded_updates_keep_the_bank_within_one_where_the_paper_grows(update):
    """M_0's entries lie in [-1, 1]; a convex mix of such a row and tanh(E_mem) stays there over any number
    of segments, while eq. 6 with an open forget gate integrates (row norms grow with the segments)."""
    ids = random_ids(2, 60 * 6, seed=5)
    common = {**PAPER, "forget_bias": 4.0}
    bounded = tiny_model("lm2", **{**common, "memory_update": update})(ids).memory.memory
    paper = tiny_model("lm2", **common)(ids).memory.memory
    assert bounded.abs().max() <= 1.0 + 1e-12
    assert paper.norm(dim=-1).mean() > 5 * bounded.norm(dim=-1).mean()


@torch.no_grad()
def test_normalised_read_does_not_depend_on_the_bank_scale():
    """With memory_read_norm the keys, values and gated rows see each row at unit RMS: a bank scaled by 100
    gives the same logits (one memory block, so every row it reads is the entering bank's), up to the
    normalisation's epsilon (1e-6 against a mean square of 1/32)."""
    gaps = {}
    for read_norm in (True, False):
        model = tiny_model("lm2", memory_layers=[1], memory_read_norm=read_norm)
        ids = random_ids(2, 6, seed=6)
        state = model.model.initial_state(2, torch.device("cpu"))
        scaled = state.apply(lambda t: t * 100 if t.is_floating_point() else t)
        gaps[read_norm] = (model(ids, memory=state).logits - model(ids, memory=scaled).logits).abs().max()
    assert gaps[True] < 1e-4 and gaps[False] > 1e-2


@torch.no_grad()
def test_a_centred_read_does_not_see_what_every_row_shares():
    """memory_read_center: the first memory block reads the entering bank's rows minus their mean, so a vector
    added to every row changes nothing it reads. With the read as the output (memory_output="read") and one memory
    block, a segment's logits depend on the entering bank only through that read: the same logits (float64).
    With "keys", only its keys are centred: the same keys, other values and logits; with "split", the rows' mean is
    read as one more row, whose key alone moves; so with "gated", which reads the same keys."""
    gaps, keys = {}, {}
    for center in (True, False, "keys", "split", "gated"):
        model = tiny_model("lm2", memory_layers=[1], memory_output="read", memory_read_center=center)
        assert model.model.layers[1].memory.read_center == center
        ids = random_ids(2, 6, seed=7)
        state = model.model.initial_state(2, torch.device("cpu"))
        shared = torch.randn(32, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
        shifted = replace(state, memory=state.memory + shared)
        gaps[center] = (model(ids, memory=state).logits - model(ids, memory=shifted).logits).abs().max()
        keys[center] = [model.model.layers[1].memory.keys_values(bank) for bank in (state.memory, shifted.memory)]
    assert gaps[True] < 1e-10 and gaps[False] > 1e-3
    # "keys": which rows are read (the keys) does not see the shared part; what is read (the values) does.
    (key, value), (key_shifted, value_shifted) = keys["keys"]
    assert (key - key_shifted).abs().max() < 1e-10 and (value - value_shifted).abs().max() > 1e-3
    assert gaps["keys"] > 1e-3 and (keys[False][0][0] - keys[False][1][0]).abs().max() > 1e-3
    # "split": the centred rows are read as with True, and the rows' mean as one more row, which sees the shift.
    for center in ("split", "gated"):
        (key, value), (key_shifted, value_shifted) = keys[center]
        assert key.shape[-2] == 7 and (key[..., :6, :] - key_shifted[..., :6, :]).abs().max() < 1e-10
        assert (key[..., 6, :] - key_shifted[..., 6, :]).abs().max() > 1e-3 and gaps[center] > 1e-3
    later = tiny_model("lm2", memory_read_center=True)  # three memory blocks: only the first reads a whole bank
    assert [layer.memory.read_center for layer in later.model.layers] == [True, False, False]


@torch.no_grad()
def test_a_gated_mean_takes_no_read_from_the_rows():
    """memory_read_center="gated": the first memory block reads the centred rows by the softmax and adds their mean
    through a gate of its own, σ(q · k_mean / sqrt(e)). However large the mean's score, the rows' weights are those of
    the softmax over the rows alone (with "split" the mean's column takes them); the read is the rows' read plus the
    gate times the mean's value, and the gate moves with the mean's key."""
    generator = torch.Generator().manual_seed(0)
    q, key, value = (torch.randn(2, 2, 5, 8, generator=generator, dtype=torch.float64) for _ in range(3))
    key, value = key[..., :4, :], value[..., :4, :]  # three rows and, last, their mean
    loud = key.clone()
    loud[..., -1, :] = 10 * q.mean(2)  # the mean's key along the queries: a large score
    for k in (key, loud):
        read, weights = read_gated_mean(q, k, value, explicit=True)
        rows, alone = read_rows(q, k[..., :-1, :], value[..., :-1, :], None, explicit=True)
        torch.testing.assert_close(weights[..., :-1], alone, rtol=0, atol=1e-12)  # the rows keep their mass
        gate = weights[..., -1:]
        torch.testing.assert_close(gate, torch.sigmoid(q @ k[..., -1:, :].transpose(-1, -2) / 8**0.5))
        torch.testing.assert_close(read, rows + gate * value[..., -1:, :], rtol=0, atol=1e-12)
        torch.testing.assert_close(read, read_gated_mean(q, k, value, explicit=False)[0])  # the fused kernel
    assert read_gated_mean(q, loud, value, True)[1][..., -1].mean() > 0.9  # the loud mean's gate opens
    split = read_rows(q, loud, value, None, explicit=True)[1]  # the same keys as one softmax: the mean takes the mass
    assert split[..., -1].mean() > 0.5 and split[..., :-1].sum(-1).mean() < 0.5


def test_a_learned_centring_starts_where_it_is_told_and_learns():
    """memory_read_center_fraction: α = 0 is the default read exactly (the same weights, the same logits: rows minus
    0 times their mean are the rows, bit for bit), α = 1 is memory_read_center; α gets gradient from the loss,
    different per channel, in the first memory block only."""
    ids = random_ids(2, 3 * 6 + 2, seed=4)
    plain = dict(memory_read_center=False)  # the uncentred read, stated whatever LM2Config's default is
    default, zero = tiny_model("lm2", **plain), tiny_model("lm2", **plain, memory_read_center_fraction=0.0)
    with torch.no_grad():
        assert torch.equal(zero(ids).logits, default(ids).logits)
        one = tiny_model("lm2", **plain, memory_read_center_fraction=1.0)
        fixed = tiny_model("lm2", memory_read_center=True)
        torch.testing.assert_close(one(ids).logits, fixed(ids).logits, rtol=1e-12, atol=1e-12)
        assert (one(ids).logits - default(ids).logits).abs().max() > 1e-3
    assert [layer.memory.center_fraction is not None for layer in zero.model.layers] == [True, False, False]
    zero.train()(ids, labels=ids).loss.backward()
    grad = zero.model.layers[0].memory.center_fraction.grad
    assert grad.abs().min() > 0 and grad.std() > 0


@torch.no_grad()
def test_forget_floor_bounds_the_horizon_whatever_the_gate_learned():
    """With both gates shut (biases -30: σ ≈ 1e-13, so nothing is written and the learned forget gate wants
    to erase), each memory block multiplies a row by the floor: after s segments through the 3 memory blocks
    M_0 is scaled by floor^(3s). Without the floor the bank is erased."""
    ids = random_ids(2, 20 * 6, seed=7)
    shut = {**PAPER, "forget_bias": -30.0, "input_bias": -30.0}
    model = tiny_model("lm2", **{**shut, "forget_floor": 0.9})
    kept = model(ids).memory.memory
    m0 = model.model.initial_state(2, torch.device("cpu")).memory
    torch.testing.assert_close(kept, 0.9 ** (3 * 20) * m0, rtol=1e-9, atol=1e-12)
    assert tiny_model("lm2", **shut)(ids).memory.memory.abs().max() < 1e-12


@pytest.mark.parametrize("update", ["paper", "delta"])
@torch.no_grad()
def test_hard_gates_leave_a_row_exactly_as_it_was(update):
    """With `memory_gates="hard"` a gate beyond ±3 is exactly 0 or 1, so M' = 1·M + 0·c (or M + 0·(c − M)) is
    M bit for bit on any IEEE machine, over any number of segments; σ at the same biases is only close to 0
    and 1, and the bank drifts."""
    ids = random_ids(2, 40 * 6, seed=8)
    shut = {**PAPER, "forget_bias": 10.0, "input_bias": -10.0, "memory_update": update}
    hard = tiny_model("lm2", **{**shut, "memory_gates": "hard"})
    m0 = hard.model.initial_state(2, torch.device("cpu")).memory
    assert torch.equal(hard(ids).memory.memory, m0)
    assert (tiny_model("lm2", **shut)(ids).memory.memory - m0).abs().max() > 1e-4


ADDRESSED = {**PAPER, "memory_write": "addressed", "memory_output": "read"}


@torch.no_grad()
def test_an_addressed_write_puts_the_candidate_where_the_address_points_and_leaves_other_rows():
    """`apply_writes` after `accumulate_writes`: one token with its gate open and its address on row 2 (every head)
    replaces row 2 by its candidate; a row nothing wrote to is left bit for bit (1·M + 0/1); a row two tokens write
    with gates summing past 1 becomes their gate-weighted mean, with nothing of the old row left."""
    bank = torch.randn(1, 4, 6, dtype=torch.float64).clamp(-1, 1)
    address = torch.zeros(1, 2, 3, 4, dtype=torch.float64)  # (b, h, n, m): 2 heads of 3 channels, 3 tokens
    address[0, :, 0, 2] = 1.0  # token 0 writes row 2
    address[0, :, 1:, 3] = 1.0  # tokens 1 and 2 write row 3
    g_in = torch.tensor([[[1.0] * 6, [0.75] * 6, [0.75] * 6]], dtype=torch.float64)
    candidate = torch.rand(1, 3, 6, dtype=torch.float64) * 2 - 1
    new = apply_writes(bank, *accumulate_writes(address, g_in, candidate, None))
    torch.testing.assert_close(new[0, 2], candidate[0, 0], rtol=1e-12, atol=1e-12)
    assert torch.equal(new[0, :2], bank[0, :2])
    torch.testing.assert_close(new[0, 3], (candidate[0, 1] + candidate[0, 2]) / 2, rtol=1e-12, atol=1e-12)
    valid = torch.tensor([[True, False, False]])  # padding columns write nothing: row 3 stays
    assert torch.equal(apply_writes(bank, *accumulate_writes(address, g_in, candidate, valid))[0, 3], bank[0, 3])


@torch.no_grad()
def test_addressed_writes_keep_the_bank_within_one_and_leave_it_exactly_when_gates_are_shut():
    """A row is a convex mix of itself and tanh candidates, so from M_0 (entries in [0, 1]) the bank stays within
    [-1, 1] over any number of segments with every gate open; with hard input gates past −3 no token writes and
    the bank is M_0 bit for bit (every weight is exactly 0, so each row is 1·M + 0)."""
    ids = random_ids(2, 60 * 6, seed=5)
    open_model = tiny_model("lm2", **{**ADDRESSED, "input_bias": 4.0})
    bank = open_model(ids).memory.memory
    m0 = open_model.model.initial_state(2, torch.device("cpu")).memory
    assert bank.abs().max() <= 1.0 + 1e-12
    assert (bank - m0).abs().max() > 0.1
    shut = tiny_model("lm2", **{**ADDRESSED, "memory_gates": "hard", "input_bias": -10.0})
    assert torch.equal(shut(ids).memory.memory, m0)


@pytest.mark.parametrize("write", ["addressed", "delta", "sequential"])
@torch.no_grad()
def test_an_addressed_segment_writes_when_it_completes_and_its_writes_wait_in_the_cache(write):
    """The bank in the state is the one entering the unfinished segment: the state after 3 tokens of a segment of 6
    holds the bank of the last complete segment, and the bank after 6 tokens, whether or not the segment was cut,
    is the same to float tolerance."""
    model = tiny_model("lm2", **{**ADDRESSED, "memory_write": write, "input_bias": 0.0, "memory_layers": [0, 2]})
    ids = random_ids(1, 12, seed=4)
    after_one = model(ids[:, :6]).memory
    partial = model(ids[:, 6:9], memory=after_one).memory
    torch.testing.assert_close(partial.memory, after_one.memory, rtol=1e-9, atol=1e-12)
    cached = [(layer.write_address if write == "sequential" else layer.write_weight) for layer in partial.layers]
    assert [c is not None for c in cached] == [True, False, True]  # the memory blocks
    whole = model(ids).memory.memory
    cut = model(ids[:, 9:], memory=partial).memory.memory
    torch.testing.assert_close(cut, whole, rtol=1e-9, atol=1e-12)
    assert (whole - after_one.memory).abs().max() > 1e-3


DELTA = {**ADDRESSED, "memory_write": "delta"}


def _delta_step(bank, address, g_in, candidate, valid=None):
    """One segment's delta writes from a single memory block, as `take_writes` applies them."""
    errors = delta_errors(address, bank, candidate)
    return apply_delta_writes(bank, *accumulate_writes(delta_address(address), g_in, errors, valid))


@torch.no_grad()
def _read(address, bank):  # a M per head: (b, h, n, m) x (b, m, d) -> (b, n, d)
    b, h, n, m = address.shape
    return (address @ bank.view(b, m, h, -1).transpose(1, 2)).transpose(1, 2).reshape(b, n, -1)


def test_a_delta_write_replaces_what_its_address_reads():
    """The normalised delta rule, one token with its gate open: with its address on row 2, row 2 becomes c and
    every other row is left bit for bit (M + 0/1); spread evenly over the rows, a M' = c; spread in between, each
    row j moves by min(a_j / |a|², 1) of the error, so the read moves κ = Σ_j a_j min(a_j / |a|², 1) of the way
    (|a|² <= κ <= 1; the convex mix moves it |a|² at most). Three tokens writing the same candidate with the same
    address move it once, not three times, and padding columns write nothing."""
    torch.manual_seed(0)
    bank = torch.rand(1, 4, 6, dtype=torch.float64) * 2 - 1
    candidate = torch.rand(1, 1, 6, dtype=torch.float64) * 2 - 1
    ones = torch.ones(1, 1, 6, dtype=torch.float64)
    sharp = torch.zeros(1, 2, 1, 4, dtype=torch.float64)  # 2 heads of 3 channels, 1 token, 4 rows
    sharp[..., 2] = 1.0
    new = _delta_step(bank, sharp, ones, candidate)
    torch.testing.assert_close(new[0, 2], candidate[0, 0], rtol=1e-12, atol=1e-12)
    assert torch.equal(new[0, [0, 1, 3]], bank[0, [0, 1, 3]])
    even = torch.full((1, 2, 1, 4), 0.25, dtype=torch.float64)
    torch.testing.assert_close(_read(even, _delta_step(bank, even, ones, candidate)), candidate, rtol=0, atol=1e-12)
    spread = torch.softmax(torch.randn(1, 2, 1, 4, dtype=torch.float64), -1)
    before = candidate - _read(spread, bank)
    after = candidate - _read(spread, _delta_step(bank, spread, ones, candidate))
    kappa = (spread * (spread / spread.square().sum(-1, keepdim=True)).clamp(max=1)).sum(-1)  # (1, 2, 1)
    assert (kappa > spread.square().sum(-1)).all()
    moved = kappa.transpose(1, 2).repeat_interleave(3, -1)  # per channel
    torch.testing.assert_close(after, (1 - moved) * before, rtol=1e-12, atol=1e-12)
    thrice = _delta_step(bank, even.expand(1, 2, 3, 4), ones.expand(1, 3, 6), candidate.expand(1, 3, 6))
    torch.testing.assert_close(_read(even, thrice), candidate, rtol=0, atol=1e-12)
    valid = torch.tensor([[False]])
    assert torch.equal(_delta_step(bank, spread, ones, candidate, valid), bank)


@torch.no_grad()
def test_a_spread_delta_write_keeps_the_rows_apart_where_the_convex_mix_pulls_them_together():
    """Stage 30's collapse, isolated: tokens whose addresses are spread evenly over the rows. The delta write moves
    every row by the same vector, so the differences between rows stay exactly as they were; the convex mix of
    `apply_writes` shrinks them by (1 − s)."""
    torch.manual_seed(1)
    bank = torch.rand(1, 4, 6, dtype=torch.float64) * 2 - 1
    even = torch.full((1, 2, 5, 4), 0.25, dtype=torch.float64)  # 5 tokens, 2 heads, 4 rows
    g_in = torch.rand(1, 5, 6, dtype=torch.float64)
    candidate = torch.rand(1, 5, 6, dtype=torch.float64) * 2 - 1
    new = _delta_step(bank, even, g_in, candidate)
    torch.testing.assert_close(new - new[:, :1], bank - bank[:, :1], rtol=1e-12, atol=1e-12)
    assert (new - bank).abs().max() > 0.05  # it did write
    mixed = apply_writes(bank, *accumulate_writes(even, g_in, candidate, None))
    spread = (mixed - mixed.mean(1, keepdim=True)).norm() / (bank - bank.mean(1, keepdim=True)).norm()
    assert spread < 0.9


def _ordered_loop(bank, address, rate, value):
    """`apply_ordered_writes` as its definition says: one write after another, M ← M + a_kᵀ (β_k ⊙ (c_k − a_k M))."""
    b, h, n, m = address.shape
    rows = bank.view(b, m, h, -1).transpose(1, 2).clone()  # (b, h, m, e)
    for k in range(n):
        a = address[:, :, k]  # (b, h, m)
        error = value[:, :, k] - (a[..., None, :] @ rows)[..., 0, :]  # (b, h, e)
        rows = rows + a[..., :, None] * (rate[:, :, k] * error)[..., None, :]
    return rows.transpose(1, 2).reshape(b, m, -1)


def test_ordered_writes_are_the_delta_rule_applied_one_after_another():
    """The chunked closed form (a triangular solve per channel and chunk) against the loop it stands for, on random
    addresses, rates and candidates (float64: the two differ by summation order only); its gradient against finite
    differences. One write alone moves what its address reads exactly g of the way to its candidate, whatever the
    address (no row's step is capped, as the one-step delta write caps it); with an address on one row or spread
    evenly, where that cap does not bind, it is the one-step delta write of the same token."""
    torch.manual_seed(2)
    b, h, n, m, e = 2, 2, 7, 5, 3
    bank = torch.rand(b, m, h * e, dtype=torch.float64) * 2 - 1
    address = torch.softmax(torch.randn(b, h, n, m, dtype=torch.float64) * 2, -1)
    rate = torch.rand(b, h, n, e, dtype=torch.float64) / address.square().sum(-1, keepdim=True)
    value = torch.rand(b, h, n, e, dtype=torch.float64) * 2 - 1
    loop = _ordered_loop(bank, address, rate, value)
    for chunk in (16, 3, 1):  # one chunk, chunks of 3 and a ragged last one, a write per chunk
        torch.testing.assert_close(apply_ordered_writes(bank, address, rate, value, chunk), loop, rtol=1e-12,
                                   atol=1e-12)  # fmt: skip
    inputs = tuple(t.clone().requires_grad_() for t in (bank, address, rate, value))
    assert torch.autograd.gradcheck(apply_ordered_writes, inputs)
    g_in = torch.rand(b, 1, h * e, dtype=torch.float64)
    candidate = value[:, :, :1].transpose(1, 2).reshape(b, 1, h * e)
    spread = address[:, :, :1]
    after = apply_ordered_writes(bank, spread, delta_rates(spread, g_in, None), value[:, :, :1])
    before = _read(spread, bank)
    torch.testing.assert_close(_read(spread, after), before + g_in * (candidate - before), rtol=1e-12, atol=1e-12)
    sharp = torch.zeros(b, h, 1, m, dtype=torch.float64)
    sharp[..., 3] = 1.0
    for one in (sharp, torch.full((b, h, 1, m), 1 / m, dtype=torch.float64)):
        ordered = apply_ordered_writes(bank, one, delta_rates(one, g_in, None), value[:, :, :1])
        torch.testing.assert_close(ordered, _delta_step(bank, one, g_in, candidate), rtol=1e-12, atol=1e-12)


def test_the_later_of_two_writes_to_one_row_wins_where_the_one_step_delta_averages_them():
    """Two tokens of one segment write to row 2 alone with their gates open: written in order, row 2 ends as the
    later candidate (the earlier one replaced); in one step, as the mean of the two. A padding column writes
    nothing."""
    torch.manual_seed(3)
    bank = torch.rand(1, 4, 6, dtype=torch.float64) * 2 - 1
    sharp = torch.zeros(1, 2, 2, 4, dtype=torch.float64)  # 2 heads of 3 channels, 2 tokens, 4 rows
    sharp[..., 2] = 1.0
    ones = torch.ones(1, 2, 6, dtype=torch.float64)
    candidate = torch.rand(1, 2, 6, dtype=torch.float64) * 2 - 1  # (b, n, d)
    heads = candidate.view(1, 2, 2, 3).transpose(1, 2)  # (b, h, n, e)
    ordered = apply_ordered_writes(bank, sharp, delta_rates(sharp, ones, None), heads)
    torch.testing.assert_close(ordered[0, 2], candidate[0, 1], rtol=1e-12, atol=1e-12)
    assert torch.equal(ordered[0, [0, 1, 3]], bank[0, [0, 1, 3]])
    torch.testing.assert_close(_delta_step(bank, sharp, ones, candidate)[0, 2], candidate[0].mean(0), rtol=1e-12,
                               atol=1e-12)  # fmt: skip
    padded = delta_rates(sharp, ones, torch.tensor([[True, False]]))
    torch.testing.assert_close(apply_ordered_writes(bank, sharp, padded, heads)[0, 2], candidate[0, 0], rtol=1e-12,
                               atol=1e-12)  # fmt: skip


@pytest.mark.parametrize("write", ["delta", "sequential"])
@torch.no_grad()
def test_delta_writes_stay_bounded_and_leave_the_bank_exactly_when_gates_are_shut(write):
    """Every gate open for 60 segments: the bank stays within 2 (the step is non-expansive; this model settles below
    1), and it moved; with hard input gates past −3 no token writes and the bank is M_0 bit for bit (every weight
    and error product is exactly 0, so each row is M + 0/1)."""
    ids = random_ids(2, 60 * 6, seed=5)
    fields = {**DELTA, "memory_write": write}
    open_model = tiny_model("lm2", **{**fields, "input_bias": 4.0, "memory_candidate": "input"})
    bank = open_model(ids).memory.memory
    m0 = open_model.model.initial_state(2, torch.device("cpu")).memory
    assert bank.abs().max() <= 2.0
    assert (bank - m0).abs().max() > 0.1
    shut = tiny_model("lm2", **{**fields, "memory_gates": "hard", "input_bias": -10.0})
    assert torch.equal(shut(ids).memory.memory, m0)


def _clipped_pair(seed: int = 0):
    """The same tiny delta-write model without and with `memory_row_clip`, its learned M_0 scaled to 3 × the identity
    so that the first segment's writes leave rows outside [-1, 1] and the clip has something to do."""
    models = []
    for clip in (False, True):
        overrides = {**DELTA, "input_bias": 0.0, "memory_init": "learned", "memory_row_clip": clip}
        model = tiny_model("lm2", seed=seed, **overrides)
        with torch.no_grad():
            model.model.memory_init.mul_(3.0)
        models.append(model)
    return models


@torch.no_grad()
def test_the_row_clip_is_the_delta_step_clipped_to_the_box_and_changes_nothing_inside_it():
    """`memory_row_clip` (docs/memory.md "Stage 32"): after a complete segment the clipped bank is the unclipped bank
    clipped to [-1, 1] (same weights, same M_0), where the unclipped one has left the box; the logits of that first
    segment are equal (the bank is taken only when it completes). A bank that stays inside the box is not touched:
    with the identity M_0 and shut hard gates the clipped bank is M_0 bit for bit (clamping a float inside [-1, 1]
    returns it unchanged on every CPU)."""
    plain, clipped = _clipped_pair()
    ids = random_ids(2, 6, seed=3)  # one complete segment
    free, held = plain(ids), clipped(ids)
    assert free.memory.memory.abs().max() > 1.5
    torch.testing.assert_close(held.memory.memory, free.memory.memory.clamp(-1, 1), rtol=0, atol=1e-12)
    torch.testing.assert_close(held.logits, free.logits, rtol=0, atol=1e-12)
    longer = clipped(random_ids(2, 10 * 6, seed=4)).memory.memory
    assert longer.abs().max() <= 1.0 and (longer.abs() == 1.0).any()
    shut = tiny_model("lm2", **{**DELTA, "memory_gates": "hard", "input_bias": -10.0, "memory_row_clip": True})
    assert torch.equal(shut(ids).memory.memory, shut.model.initial_state(2, torch.device("cpu")).memory)


@pytest.mark.parametrize("cuts", [(1, 2, 3, 4, 5, 6, 7, 9, 11, 13, 17), (6, 12), (5, 14)])
@torch.no_grad()
def test_a_clipped_delta_bank_streams_exactly(cuts):
    """Chunked == whole for a model whose clip binds, wherever the input is cut (token by token as generation feeds
    it, at segment boundaries, inside segments): the clip acts once per completed segment, on the bank the segment's
    writes leave, whatever the chunks were."""
    _, model = _clipped_pair(seed=1)
    ids = random_ids(2, 20, seed=6)  # three complete segments of 6 and two tokens
    whole = model(ids)
    bounds, state, logits = [0, *cuts, 20], None, []
    for a, z in zip(bounds[:-1], bounds[1:], strict=True):
        out = model(ids[:, a:z], memory=state)
        state, logits = out.memory, [*logits, out.logits]
    torch.testing.assert_close(torch.cat(logits, 1), whole.logits, rtol=0, atol=1e-10)
    torch.testing.assert_close(state.memory, whole.memory.memory, rtol=0, atol=1e-12)
    assert whole.memory.memory.abs().max() <= 1.0


def test_reopening_hard_sigmoid_is_the_hard_sigmoid_forward_and_passes_only_gradients_that_reopen():
    """`memory_gate_grad="reopen"`: the forward is `hardsigmoid` itself (the same call, so the same bits); the
    backward is its slope 1/6 inside (−3, 3) and, past an edge, 1/6 only where the gradient points back in."""
    x = torch.tensor([-5.0, -5.0, -3.0, -1.0, 0.0, 2.5, 3.0, 5.0, 5.0], dtype=torch.float64, requires_grad=True)
    grad = torch.tensor([-1.0, 1.0, -2.0, 1.0, -1.0, 3.0, 1.0, 1.0, -1.0], dtype=torch.float64)
    y = reopening_hardsigmoid(x)
    assert torch.equal(y, torch.nn.functional.hardsigmoid(x))
    y.backward(grad)
    # below −3: only the negative gradient (descent raises x) passes; above +3 only the positive one
    expected = torch.tensor([-1.0, 0.0, -2.0, 1.0, -1.0, 3.0, 1.0, 1.0, 0.0], dtype=torch.float64) / 6
    torch.testing.assert_close(x.grad, expected, rtol=1e-12, atol=1e-15)
    exact = x.detach().clone().requires_grad_()
    torch.nn.functional.hardsigmoid(exact).backward(grad)
    inside = (x > -3) & (x < 3)
    # PyTorch's own kernel multiplies by 1/6 in single precision (a relative 3e-8 off in float64)
    torch.testing.assert_close(x.grad[inside], exact.grad[inside], rtol=1e-7, atol=1e-15)
    assert (exact.grad[~inside] == 0).all()


def test_shut_input_gates_get_a_gradient_towards_writing_only_with_reopen():
    """Input gates all past −3 (bias −6): the same model, float64. Logits are equal — `memory_gate_grad` changes
    no forward — but with the hard sigmoid's own gradient the input gates get none at all, while `reopen` gives
    them the part of the loss's gradient that would open them (every bias gradient ≤ 0), and some."""
    ids = random_ids(2, 40 * 3, seed=3)
    grads, logits = {}, {}
    for rule in ("exact", "reopen"):
        model = tiny_model("lm2", input_bias=-6.0, write_penalty=0.0, memory_gate_grad=rule)
        out = model(ids, labels=ids)
        out.loss.backward()
        logits[rule] = out.logits.detach()
        grads[rule] = torch.stack([layer.memory.in_gate.bias.grad for layer in model.model.layers if layer.memory])
    # the same forward on the same weights; a tolerance at float64 rounding in case kernel paths differ
    torch.testing.assert_close(logits["reopen"], logits["exact"], rtol=0, atol=1e-12)
    assert (grads["exact"] == 0).all()
    assert (grads["reopen"] <= 0).all() and (grads["reopen"] < 0).any()


@pytest.mark.parametrize("overrides", [kw for arch, kw in VARIANTS if arch == "lm2"], ids=lambda kw: str(sorted(kw)))
def test_parameter_counts_match_every_lm2_variant_built(overrides):
    """`parameter_counts`, which experiments quote, counts what the model builds: W_C, α, a learned M_0 and the gain
    when there, W_A instead of the forget gate with the addressed write."""
    model = tiny_model("lm2", **overrides)
    assert parameter_counts(model.config)["total"] == sum(p.numel() for p in model.parameters())


def test_the_flop_count_adds_what_each_write_computes():
    """`forward_flops_per_token`, which benchmarks quote: the addressed write reads every row in every memory block and
    scores every row with its write key; the delta write also reads what each address points at (a_i M, 2·d·m per
    token and memory block), and nothing else."""
    base = {"arch": "lm2", "memory_output": "read", "memory_layers": [0, 1], "hidden_size": 32, "segment_length": 16}
    flops = {
        write: forward_flops_per_token(LM2Config(**{**base, "memory_slots": 16, "memory_write": write}), 16)
        for write in MEMORY_WRITES
    }
    assert flops["rows"] < flops["addressed"] < flops["delta"] < flops["sequential"]
    assert flops["delta"] - flops["addressed"] == 2 * 2 * 32 * 16
    heads = LM2Config(**base).memory_heads  # sequential: N = 2 x 16 writes a segment, each (h m + d) N
    assert flops["sequential"] - flops["delta"] == 2 * (heads * 16 + 32) * 2 * 16
    cosine = LM2Config(**{**base, "memory_slots": 16, "memory_write": "delta", "memory_address": "cosine"})
    assert forward_flops_per_token(cosine, 16) - flops["delta"] == 2 * 2 * 32 * heads  # E_t W_β, per memory block
    slots = LM2Config(**{**base, "memory_slots": 16, "memory_write": "delta", "memory_address": "slots"})
    assert flops["delta"] - forward_flops_per_token(slots, 16) == 2 * 2 * 32 * 32  # no W_K of the rows, per block


def test_a_cosine_address_goes_where_the_key_points_as_sharply_as_its_strength_says():
    """`cosine_address` (`memory_address="cosine"`): strength 0 spreads a write evenly; a write key pointing where row
    2's key points puts more on row 2 the stronger it is (almost all of it at β = 50, wherever the other rows point,
    since their cosines stay below 1); and neither the write key's nor the bank keys' lengths change the address,
    where the dot address of the same keys changes with them."""
    torch.manual_seed(2)
    key = torch.randn(1, 2, 5, 4, dtype=torch.float64)  # 2 heads, 5 rows, head dim 4
    query = key[:, :, 2:3] * 0.01  # one token per head, pointing along row 2's key, short
    strengths = [torch.full((1, 2, 1), beta, dtype=torch.float64) for beta in (0.0, 5.0, 50.0)]
    even, mid, sharp = (cosine_address(query, key, beta) for beta in strengths)
    torch.testing.assert_close(even, torch.full_like(even, 0.2), rtol=0, atol=1e-12)
    assert (mid[..., 2] > 0.2).all() and (sharp[..., 2] > mid[..., 2]).all() and (sharp[..., 2] > 0.99).all()
    scaled = cosine_address(query * 300.0, key * torch.rand(1, 2, 5, 1, dtype=torch.float64) * 7, strengths[1])
    torch.testing.assert_close(scaled, mid, rtol=0, atol=1e-12)
    assert (address_rows(query * 300.0, key) - address_rows(query, key)).abs().max() > 0.1


def test_the_cosine_address_starts_at_its_strength():
    """The key strength starts at `memory_address_strength` on every token (W_β's output is small at initialisation,
    so softplus(b_β) is what a token gets), at 10 and at a strength whose softplus⁻¹ would overflow a naive expm1. The
    bias is set in float32 before the test model is cast to float64, hence a float32 tolerance."""
    for strength in (10.0, 0.5, 800.0):
        model = tiny_model("lm2", **{**DELTA, "memory_address": "cosine", "memory_address_strength": strength})
        bias = model.model.layers[0].memory.strength_proj.bias
        torch.testing.assert_close(
            torch.nn.functional.softplus(bias), torch.full_like(bias, strength), rtol=1e-6, atol=0
        )


SLOTS = {**DELTA, "memory_address": "slots", "memory_candidate": "input", "input_bias": 0.0, "memory_heads": 2}


def _first_block_steps(model, ids):
    """The first memory block's `MemoryStep` of every segment pass of `ids` (a fresh stream, one call)."""
    steps = []
    memory = model.model.layers[0].memory

    def record(module, args, kwargs, output):
        steps.append(module.forward(*args, **{**kwargs, "return_step": True}).step)

    handle = memory.register_forward_hook(record, with_kwargs=True)
    try:
        model(ids)
    finally:
        handle.remove()
    return steps


@torch.no_grad()
def test_slot_keys_address_the_rows_whatever_they_hold():
    """`memory_address="slots"`: the rows' keys are the block's parameters κ, so a token's write address and its read
    weights over the rows depend on the token alone, not on what earlier segments wrote; the read itself (V = M W_V)
    does. Two inputs that differ only in their first segment: in the first memory block (whose input is the token's
    embedding in both) the second segment's addresses and read weights are the same, its reads differ. With the dot
    address (keys W_K of the rows) the same two inputs address differently (a larger initialisation than the default,
    whose addresses are all within 1e-3 of even). κ starts at the spread of the keys that W_K gives M_0's unit-RMS rows
    (std initializer_range · sqrt(d))."""
    ids = random_ids(2, 12, seed=7)
    ids[1, 6:] = ids[0, 6:]  # the same second segment after different first ones
    sharp = {**SLOTS, "initializer_range": 0.3}  # at 0.02 every address is within 1e-3 of even
    slots, dot = tiny_model("lm2", **sharp), tiny_model("lm2", **{**sharp, "memory_address": "dot"})
    assert slots.model.layers[0].memory.k_proj is None  # κ instead of W_K: no unused parameter
    steps = _first_block_steps(slots, ids)
    assert len(steps) == 2
    second = steps[1]
    torch.testing.assert_close(second.address[0], second.address[1], rtol=0, atol=1e-12)
    torch.testing.assert_close(second.weights[0], second.weights[1], rtol=0, atol=1e-12)
    assert (second.read[0] - second.read[1]).abs().max() > 1e-3
    dot_second = _first_block_steps(dot, ids)[1]
    assert (dot_second.address[0] - dot_second.address[1]).abs().max() > 1e-4
    keys = torch.cat([layer.memory.slot_keys.flatten() for layer in slots.model.layers if layer.memory])
    expected = 0.3 * 32**0.5  # TINY's width
    assert abs(keys.std().item() / expected - 1) < 0.15
