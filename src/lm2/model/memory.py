"""The LM2 memory path of one decoder block (DESIGN §2, paper eqs. 1–6), and where its rows go in the bank.

Notation: `b` batch, `n` new token columns of the segment, `m` bank rows (= segment length), `w` bank rows a
block reads, `h` memory heads, `e` memory head dim, `d` width. Row i of the bank belongs to token i of the
segment ("row-aligned").

A memory block receives `rows`, the bank rows of its new columns as they enter the block, `(b, n, d)`. It
reads the bank by cross-attention, returns the gated memory for the residual stream and the rewritten rows
for the next block; `write_rows` puts the last block's rows back into the bank. Reading uses keys/values of
- the whole bank entering the segment, in the first memory block (those rows hold only earlier segments; with
  `memory_read_center`, each minus the rows' mean, for keys and values or for keys alone, or followed by the
  mean as one more row, read by the softmax or through a gate of its own; with `memory_read_center_fraction`,
  minus a learned per-channel fraction of it),
- rows j <= i only, in every later memory block (row j there already carries token j of this segment).
Which of the two a block does is fixed at construction (`reads_whole_bank`).

With `memory_write="addressed"` (not in the paper) every memory block reads the whole bank entering the segment,
no row belongs to a token, and each token's write goes where its write key points (`address_rows`): the blocks
accumulate the segment's writes (`accumulate_writes`, kept in their caches between calls) and the bank takes them
when the segment completes (`apply_writes`). With `memory_write="delta"` the same, but each token writes the error
of what its address reads from the bank, normalised (`delta_address`, `delta_errors`), and the bank takes every
block's writes in one step (`apply_delta_writes`; with `memory_row_clip`, then clipped to [-1, 1] by the model's
`take_writes`). With `memory_write="sequential"` the blocks cache each token's address, rate and candidate instead of
their sums (`delta_rates`), and the bank takes the writes one after another in token order
(`apply_ordered_writes`). With `memory_address="cosine"` any addressed write addresses by content with a key strength
(`cosine_address`) instead of by dot product; with `memory_address="slots"` the rows' keys are learned parameters of
the block (`slot_keys`), not projections of the rows, for the write's address and the read alike.

Precision: under bf16 autocast the projections (W_Q, W_K, W_V, the three gates, W_C) and the read run in bf16 with
fp32 accumulation like every other matmul (`state_projection`); the bank, the gate activations and the
update (`gate_and_update`, elementwise, one fused kernel under `torch.compile`) stay in fp32 (fp64 for fp64
models).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .backbone import SegmentContext, attend, state_projection
from .config import ADDRESSED_WRITES, DELTA_WRITES, LM2Config
from .state import merge_columns


def initial_bank(slots: int, width: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """M_0 `(m, d)`: identity when m == d, orthonormal rows (rows of the identity) when m < d, unit-norm
    random rows from a fixed seed when m > d. Deterministic, so it needs no storage."""
    if slots <= width:
        return torch.eye(slots, width, dtype=dtype)
    generator = torch.Generator().manual_seed(0)
    rows = torch.randn(slots, width, generator=generator, dtype=torch.float64)
    return (rows / rows.norm(dim=-1, keepdim=True)).to(dtype)


def bank_dtype(dtype: torch.dtype) -> torch.dtype:
    """The precision of the bank for parameters of `dtype`: fp32, or fp64 for fp64 models."""
    return torch.float64 if dtype == torch.float64 else torch.float32


class Gate(nn.Linear):
    """A gate's linear map whose bias starts at `bias_init` (b_f = +forget_bias keeps the memory at first,
    a negative input bias makes a row earn its write; `out` features, default the width, as for the cosine address's
    key strengths); `_init_weights` reads `bias_init`."""

    def __init__(self, width: int, bias_init: float, out: int | None = None) -> None:
        super().__init__(width, width if out is None else out)
        self.bias_init = bias_init


def rms_rows(rows: Tensor, eps: float = 1e-6) -> Tensor:
    """Rows `(..., d)` scaled to unit root-mean-square: what `memory_read_norm` reads instead of the rows."""
    return rows * torch.rsqrt(rows.pow(2).mean(-1, keepdim=True) + eps)


class _ReopeningHardSigmoid(torch.autograd.Function):
    """The hard sigmoid clamp(x / 6 + 1/2, 0, 1) forward; backward its slope 1/6 inside (−3, 3) and, past an
    edge, 1/6 only for the part of the gradient that points back inside (`LM2Config.memory_gate_grad="reopen"`):
    below −3 a negative gradient (descent raises x), above +3 a positive one. Everything else gets 0, as the
    exact hard sigmoid gives."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return nn.functional.hardsigmoid(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        passes = ((x > -3.0) & (x < 3.0)) | ((x <= -3.0) & (grad < 0)) | ((x >= 3.0) & (grad > 0))
        return torch.where(passes, grad / 6.0, torch.zeros_like(grad))


def reopening_hardsigmoid(x: Tensor) -> Tensor:
    """The hard sigmoid whose gates can come back from past their edges (`_ReopeningHardSigmoid`)."""
    return _ReopeningHardSigmoid.apply(x)


def gate_squash(hard: bool, reopen: bool):
    """The input and forget gates' squashing: σ, or the hard sigmoid (`hard`), whose gradient past its edges
    reopens (`reopen`, `LM2Config.memory_gate_grad`)."""
    if not hard:
        return torch.sigmoid
    return reopening_hardsigmoid if reopen else nn.functional.hardsigmoid


def gate_and_update(
    pre_out: Tensor,
    pre_in: Tensor,
    pre_forget: Tensor,
    pre_candidate: Tensor,
    rows: Tensor,
    source: Tensor,
    rule: str,
    floor: float = 0.0,
    hard: bool = False,
    reopen: bool = False,
) -> tuple[Tensor, ...]:
    """Eqs. 3–6 after the projections, all `(b, n, d)` in the bank's precision: the gates' pre-activations,
    the candidate's (`pre_candidate`: E_mem in the paper, E_t W_C with `memory_candidate="input"`), the rows
    M_t[i] and what the output gate lets through (`source`: M_t[i], normalised or not, or E_mem); `floor` the
    forget gate's least value (`LM2Config.forget_floor`, 0 in the paper); `hard` the hard sigmoid for the input
    and forget gates (`LM2Config.memory_gates`), `reopen` its gradient past the edges
    (`LM2Config.memory_gate_grad`). Elementwise only, so `torch.compile` fuses it into one kernel.
    Returns (E_gated, M_{t+1}[i], g_out, g_in, g_f, candidate)."""
    squash = gate_squash(hard, reopen)
    g_out, g_in, g_f = torch.sigmoid(pre_out), squash(pre_in), squash(pre_forget)  # eqs. 3–5
    if floor:
        g_f = floor + (1.0 - floor) * g_f
    candidate = torch.tanh(pre_candidate)
    return g_out * source, update_rows(rows, candidate, g_in, g_f, rule), g_out, g_in, g_f, candidate  # eqs. 3, 6


def update_rows(rows: Tensor, candidate: Tensor, g_in: Tensor, g_f: Tensor, rule: str) -> Tensor:
    """Eq. 6 and its bounded variants (`LM2Config.memory_update`): M_{t+1}[i] from M_t[i] `rows`, the
    candidate c = tanh(E_mem) and the gates, all `(b, n, d)`."""
    if rule == "mean":  # a weighted mean of the kept row and the candidate
        return (g_in * candidate + g_f * rows) / (g_in + g_f)
    if rule == "delta":  # keep g_f of the row, then move it by g_in towards the candidate
        kept = g_f * rows
        return kept + g_in * (candidate - kept)
    return g_in * candidate + g_f * rows  # the paper's eq. 6


@dataclass
class MemoryStep:
    """The intermediates of one memory step, returned when asked (`return_step=True`): inspection and
    tests read them here instead of recomputing the equations."""

    weights: Tensor  # (b, h, n, w) read attention over the bank rows this block sees (eq. 2's softmax)
    read: Tensor  # (b, n, d) E_mem (eq. 2)
    gate_out: Tensor  # (b, n, d) g_out (eq. 3)
    gate_in: Tensor  # (b, n, d) g_in (eq. 4)
    gate_forget: Tensor | None  # (b, n, d) g_f (eq. 5); None with memory_write="addressed" (no forget gate)
    candidate: Tensor  # (b, n, d) tanh(E_mem), what eq. 6 writes through the input gate
    address: Tensor | None = None  # (b, h, n, m) memory_write="addressed": where each token writes, per head


@dataclass
class MemoryOutput:
    gated: Tensor  # (b, n, d) E_gated, added to the residual stream (eq. 3)
    rows: Tensor | None  # (b, n, d) M_{t+1}[i] of the new columns (eq. 6); None with memory_write="addressed"
    key: Tensor  # (b, h, w, e) the memory keys this block read, to cache
    value: Tensor
    step: MemoryStep | None = None
    writes: Tensor | None = None  # (b, n) each token's g_in averaged over the width, when counted
    write_weight: Tensor | None = None  # memory_write="addressed": (b, m, d) the segment's writes so far
    write_sum: Tensor | None = None  # (`accumulate_writes`), to cache until the segment completes
    # memory_write="sequential": the segment's per-token writes so far (address, rate, candidate), to cache
    ordered: tuple[Tensor, Tensor, Tensor] | None = None


class LM2Memory(nn.Module):
    """Cross-attention read, output gate, input and forget gates, row update."""

    def __init__(self, config: LM2Config, reads_whole_bank: bool) -> None:
        super().__init__()
        d = config.hidden_size
        self.heads = config.memory_heads
        self.head_dim = d // self.heads
        self.query = config.memory_query
        self.output = config.memory_output
        self.read_norm = config.memory_read_norm
        # The first memory block only: False, True (keys and values from the centred rows), "keys", "split" or "gated".
        self.read_center = config.memory_read_center if reads_whole_bank else False
        # α of `memory_read_center_fraction`: the learned share of the rows' mean the first memory block does not read.
        fraction = config.memory_read_center_fraction
        learned = fraction is not None and reads_whole_bank
        self.center_fraction = nn.Parameter(torch.full((d,), float(fraction))) if learned else None
        self.update = config.memory_update
        self.forget_floor = float(config.forget_floor)
        self.hard_gates = config.memory_gates == "hard"
        self.reopen_gates = config.memory_gate_grad == "reopen"
        self.candidate = config.memory_candidate
        self.addressed = config.memory_write in ADDRESSED_WRITES  # an address instead of a row per token
        self.delta = config.memory_write in DELTA_WRITES  # the address's read replaced, not blended
        self.sequential = config.memory_write == "sequential"  # ... write after write, in the segment's order
        # The first memory block (every memory block with the addressed write): its bank holds earlier segments only.
        self.reads_whole_bank = reads_whole_bank or self.addressed
        self.q_proj = nn.Linear(d, d, bias=False)  # W_Q
        # κ: memory_address="slots"'s keys, one per row and memory head, in place of W_K (the keys of rows' content).
        slots = self.addressed and config.memory_address == "slots"
        self.slot_keys = nn.Parameter(torch.empty(self.heads, config.memory_slots, self.head_dim)) if slots else None
        self.k_proj = None if slots else nn.Linear(d, d, bias=False)  # W_K
        self.v_proj = nn.Linear(d, d, bias=False)  # W_V
        self.out_gate = nn.Linear(d, d)  # W_out
        self.in_gate = Gate(d, config.input_bias)  # W_in, bias init input_bias
        # W_forget, bias b_f (init +forget_bias); the addressed write has no forget gate.
        self.forget_gate = None if self.addressed else Gate(d, config.forget_bias)
        # W_A: the key a token writes with (memory_write="addressed", not in the paper).
        self.address_proj = nn.Linear(d, d, bias=False) if self.addressed else None
        # W_β, b_β: memory_address="cosine"'s key strength per memory head, starting at memory_address_strength.
        self.strength_proj = None
        if self.addressed and config.memory_address == "cosine":
            beta = config.memory_address_strength
            self.strength_proj = Gate(d, beta + math.log(-math.expm1(-beta)), self.heads)  # b_β = softplus⁻¹(β)
        # W_C: the candidate from the token's own input instead of the read (not in the paper).
        self.candidate_proj = nn.Linear(d, d, bias=False) if self.candidate == "input" else None
        # Optional learnable gain on E_gated (not in the paper): 0 at init switches the memory off exactly.
        self.gain = None if config.memory_gain is None else nn.Parameter(torch.full((d,), config.memory_gain))

    def _heads(self, x: Tensor) -> Tensor:
        b, r, _ = x.shape
        return x.view(b, r, self.heads, self.head_dim).transpose(1, 2)  # (b, h, r, e)

    def keys_values(self, rows: Tensor) -> tuple[Tensor, Tensor]:
        """Bank rows `(b, r, d)` → K, V `(b, h, r, e)` (eq. 1); in a block that centres its read (the first memory
        block, which reads the whole bank, `LM2Config.memory_read_center`), the rows minus their mean first (for
        K alone with `"keys"`; with `"split"` and `"gated"` followed by the mean as row r + 1, so K, V are
        `(b, h, r + 1, e)`), or minus the learned fraction α ⊙ mean (`memory_read_center_fraction`). With
        `memory_address="slots"` K is the block's own keys κ, whatever the rows hold."""
        dtype = rows.dtype
        norm = rms_rows if self.read_norm else (lambda r: r)
        if self.read_center in ("split", "gated"):
            mean = rows.mean(1, keepdim=True)
            keyed = torch.cat([rows - mean, mean], 1)  # (b, r + 1, d): how the rows differ, what they share
        elif self.read_center is not False:
            keyed = rows - rows.mean(1, keepdim=True)
        elif self.center_fraction is not None:
            keyed = rows - self.center_fraction.to(dtype) * rows.mean(1, keepdim=True)
        else:
            keyed = rows
        keyed = norm(keyed)
        valued = norm(rows) if self.read_center == "keys" else keyed  # "keys": W_V reads the rows as they are
        v = self._heads(state_projection(self.v_proj, valued, dtype))
        if self.slot_keys is not None:
            return self.slot_keys.to(v.dtype).expand(v.shape[0], -1, -1, -1), v
        return self._heads(state_projection(self.k_proj, keyed, dtype)), v

    def _bank_keys(self, bank: Tensor, offset: Tensor, key: Tensor | None, value: Tensor | None):
        """K/V of the whole bank entering the segment, for the first memory block.

        A sample inside a segment (offset > 0) already has them cached; `bank` holds the entering bank
        exactly for the samples at a segment boundary (offset == 0), whose K/V are computed now.
        """
        if key is not None and bool((offset > 0).all()):
            return key, value
        fresh_key, fresh_value = self.keys_values(bank)
        if key is None:
            return fresh_key, fresh_value
        cached = (offset > 0)[:, None, None, None]
        return torch.where(cached, key, fresh_key), torch.where(cached, value, fresh_value)

    def forward(
        self,
        *,
        x: Tensor,
        attn: Tensor,
        rows: Tensor,
        bank: Tensor,
        ctx: SegmentContext,
        key: Tensor | None = None,
        value: Tensor | None = None,
        written: tuple[Tensor | None, ...] = (None,) * 5,
        return_step: bool = False,
        count_writes: bool = False,
    ) -> MemoryOutput:
        """One memory step.

        x `(b, n, d)` the normalised block input E_t; attn `(b, n, d)` the self-attention output; rows
        `(b, n, d)` bank rows M_t[i] of the new columns entering this block; bank `(b, m, d)` the stream's
        bank (read by the first memory block); key/value this block's cached memory K/V of the segment;
        `count_writes` also returns each token's input gate averaged over the width (the write tally);
        `written` this block's cached writes of the segment so far (`rows` is then None): the addressed write's sums
        (weight, total), then with `memory_write="sequential"` each token's (address, rate, candidate).
        """
        dtype = bank.dtype if rows is None else rows.dtype  # the bank's precision (rows: a slice of it, or eq. 6's)
        source = x if self.query == "input" else attn
        q = self._heads(state_projection(self.q_proj, source, dtype))  # eq. 1: Q = E_t W_Q   (b, h, n, e)
        if self.reads_whole_bank:
            key, value = self._bank_keys(bank, ctx.offset, key, value)  # (b, h, m, e)
            start = None  # every token reads every row
        else:
            k_new, v_new = self.keys_values(rows)  # K = M_t W_K, V = M_t W_V of the new rows
            key = merge_columns(key, k_new, ctx.start, ctx.offset, ctx.aligned)  # (b, h, w, e)
            value = merge_columns(value, v_new, ctx.start, ctx.offset, ctx.aligned)
            start = ctx.start  # token i reads rows j <= i
        if self.read_center == "gated":  # the centred rows by the softmax, their mean (the last row) through a gate
            e_mem, weights = read_gated_mean(q, key, value, return_step)
        else:
            e_mem, weights = read_rows(q, key, value, start, return_step)  # eq. 2   (b, h, n, e)
        b, _, n, _ = e_mem.shape
        e_mem = e_mem.transpose(1, 2).reshape(b, n, self.heads * self.head_dim).to(dtype)  # E_mem (b, n, d)
        if self.addressed:
            return self._addressed(x, e_mem, weights, key, value, bank, ctx, written, return_step, count_writes)
        kept = rms_rows(rows) if self.read_norm else rows
        gated, new_rows, g_out, g_in, g_f, candidate = gate_and_update(
            state_projection(self.out_gate, e_mem, dtype),  # eq. 3: E_mem W_out
            state_projection(self.in_gate, x, dtype),  # eq. 4: E_t W_in, per token
            state_projection(self.forget_gate, e_mem, dtype),  # eq. 5: E_mem W_forget + b_f
            e_mem if self.candidate_proj is None else state_projection(self.candidate_proj, x, dtype),  # eq. 6's c
            rows,
            kept if self.output == "bank" else e_mem,  # eq. 3: g_out ⊙ M_t[i] (or ⊙ E_mem)
            self.update,
            self.forget_floor,
            self.hard_gates,
            self.reopen_gates,
        )
        if self.gain is not None:
            gated = self.gain.to(dtype) * gated
        step = MemoryStep(weights, e_mem, g_out, g_in, g_f, candidate) if return_step else None
        writes = g_in.mean(-1) if count_writes else None
        return MemoryOutput(gated, new_rows, key, value, step, writes)

    def _addressed(self, x, e_mem, weights, key, value, bank, ctx, written, return_step, count_writes) -> MemoryOutput:
        """`memory_write="addressed"` or `"delta"` after the read (E_mem of `bank`, the whole bank entering the
        segment, whose keys are `key`): add g_out ⊙ E_mem, and add this pass's writes to the segment's
        (`accumulate_writes`: the candidates, or with "delta" their errors, `delta_errors`); the bank itself does not
        change here."""
        dtype = e_mem.dtype
        squash = gate_squash(self.hard_gates, self.reopen_gates)
        g_out = torch.sigmoid(state_projection(self.out_gate, e_mem, dtype))
        g_in = squash(state_projection(self.in_gate, x, dtype))
        pre = e_mem if self.candidate_proj is None else state_projection(self.candidate_proj, x, dtype)
        candidate = torch.tanh(pre)
        write_key = self._heads(state_projection(self.address_proj, x, dtype))
        if self.strength_proj is None:
            address = address_rows(write_key, key.to(dtype))
        else:
            strength = nn.functional.softplus(state_projection(self.strength_proj, x, dtype))  # β   (b, n, h)
            address = cosine_address(write_key, key.to(dtype), strength.transpose(1, 2))
        gated = g_out * e_mem
        if self.gain is not None:
            gated = self.gain.to(dtype) * gated
        step = MemoryStep(weights, e_mem, g_out, g_in, None, candidate, address) if return_step else None
        writes = g_in.mean(-1) if count_writes else None
        if self.sequential:  # this pass's columns of the segment's per-token writes, merged into the cached ones
            new = (address, delta_rates(address, g_in, ctx.valid), self._heads(candidate))
            ordered = tuple(
                merge_columns(c, t, ctx.start, ctx.offset, ctx.aligned) for c, t in zip(written[2:], new, strict=True)
            )
            return MemoryOutput(gated, None, key, value, step, writes, ordered=ordered)
        if self.delta:
            errors = delta_errors(address, bank.to(dtype), candidate)
            weight, total = accumulate_writes(delta_address(address), g_in, errors, ctx.valid)
        else:
            weight, total = accumulate_writes(address, g_in, candidate, ctx.valid)
        before = ctx.offset > 0  # samples inside the segment: their earlier passes' writes are cached
        if written[0] is not None:
            keep = before[:, None, None]
            weight = weight + torch.where(keep, written[0], 0).to(dtype)
            total = total + torch.where(keep, written[1], 0).to(dtype)
        return MemoryOutput(gated, None, key, value, step, writes, weight, total)


def address_rows(query: Tensor, key: Tensor) -> Tensor:
    """Where each token writes (`memory_write="addressed"`): softmax(q Kᵀ / sqrt(e)) over the bank's rows, per head,
    for the write keys q `(b, h, n, e)` and the bank's keys `(b, h, m, e)`. Returns `(b, h, n, m)`, each token's
    weights summing to 1."""
    return (query @ key.transpose(-1, -2) / math.sqrt(query.shape[-1])).softmax(-1)


def cosine_address(query: Tensor, key: Tensor, strength: Tensor) -> Tensor:
    """Where each token writes with `memory_address="cosine"` (content addressing with a key strength, as in the
    Neural Turing Machine): softmax(β cos(q, k_j)) over the bank's rows, per head, for the write keys q `(b, h, n, e)`,
    the bank's keys `(b, h, m, e)` and the strengths β ≥ 0 `(b, h, n)`. Returns `(b, h, n, m)`, each token's weights
    summing to 1: even at β = 0, on the closest rows as β grows."""
    cosine = nn.functional.normalize(query, dim=-1) @ nn.functional.normalize(key, dim=-1).transpose(-1, -2)
    return (strength[..., None] * cosine).softmax(-1)


def accumulate_writes(address: Tensor, g_in: Tensor, candidate: Tensor, valid: Tensor | None) -> tuple[Tensor, Tensor]:
    """The sums a segment's writes leave for `apply_writes`: with u_ij = a_ij g_in,i (per channel, head h's address
    for head h's channels), the weight Σ_i u_ij and the total Σ_i u_ij c_i of every row j, both `(b, m, d)`, for the
    address `(b, h, n, m)`, the input gates and candidates `(b, n, d)`; tokens of padding columns (`valid` `(b, n)`
    false) write nothing."""
    b, h, n, m = address.shape
    if valid is not None:
        g_in = g_in * valid[..., None].to(g_in.dtype)
    gates = g_in.view(b, n, h, -1).transpose(1, 2)  # (b, h, n, e)
    written = (g_in * candidate).view(b, n, h, -1).transpose(1, 2)
    to_rows = address.transpose(-1, -2)  # (b, h, m, n)
    weight, total = to_rows @ gates, to_rows @ written  # (b, h, m, e)
    return weight.transpose(1, 2).reshape(b, m, -1), total.transpose(1, 2).reshape(b, m, -1)


def apply_writes(bank: Tensor, weight: Tensor, total: Tensor) -> Tensor:
    """The bank `(b, m, d)` after a segment's addressed writes (`accumulate_writes`): each row a convex mix of itself
    and the candidates written to it, M[j] (1 − s_j)₊ + Σ_i u_ij c_i / max(s_j, 1) with s_j = Σ_i u_ij, so it
    stays within [-1, 1] once there, and a row nothing wrote to (s_j = 0) is left exactly as it was."""
    return (1.0 - weight).clamp(min=0.0) * bank + total / weight.clamp(min=1.0)


def delta_address(address: Tensor) -> Tensor:
    """The delta rule's weights (`memory_write="delta"`): each token's address `(b, h, n, m)` divided by its squared
    norm |a_i|² (the normalised delta rule), so that alone, with its gate fully open, a token whose address is on one
    row, or spread evenly over the m rows (a weight of 1 on each), moves what it reads, a_i M, all the way to its
    candidate; `apply_delta_writes` caps a row's step at the whole error."""
    return address / address.square().sum(-1, keepdim=True)


def delta_errors(address: Tensor, bank: Tensor, candidate: Tensor) -> Tensor:
    """What a delta write adds (`memory_write="delta"`): each token's candidate minus what its address reads from the
    bank entering the segment, e_i = c_i − a_i M per memory head, for the address `(b, h, n, m)`, the bank `(b, m, d)`
    and the candidates `(b, n, d)`; returns `(b, n, d)`."""
    b, h, n, m = address.shape
    rows = bank.view(b, m, h, -1).transpose(1, 2)  # (b, h, m, e): head h's channels of every row
    read = (address @ rows).transpose(1, 2).reshape(b, n, -1)  # a_i M   (b, n, d)
    return candidate - read


def apply_delta_writes(bank: Tensor, weight: Tensor, total: Tensor) -> Tensor:
    """The bank `(b, m, d)` after a segment's delta writes, every memory block's summed (`accumulate_writes` of
    `delta_address` and `delta_errors`): M[j] + Σ u_ij e_i / max(s_j, 1) with s_j = Σ u_ij. Each row moves by a
    weighted mean of the errors written to it, with weights summing to at most 1, so the step is non-expansive (the
    map M ↦ M − D⁻¹AᵀGΛA M has eigenvalues in [0, 1]); a row nothing wrote to is left exactly as it was."""
    return bank + total / weight.clamp(min=1.0)


def delta_rates(address: Tensor, g_in: Tensor, valid: Tensor | None) -> Tensor:
    """The rates of `memory_write="sequential"`: β_i = g_in,i / |a_i|² per channel `(b, h, n, e)`, for the address
    `(b, h, n, m)` and the input gates `(b, n, d)`; 0 for the tokens of padding columns (`valid` `(b, n)` false),
    which then write nothing."""
    b, h, n, _ = address.shape
    if valid is not None:
        g_in = g_in * valid[..., None].to(g_in.dtype)
    return g_in.view(b, n, h, -1).transpose(1, 2) / address.square().sum(-1, keepdim=True)


def apply_ordered_writes(bank: Tensor, address: Tensor, rate: Tensor, value: Tensor, chunk: int = 16) -> Tensor:
    """The bank `(b, m, d)` after N writes taken one after another (`memory_write="sequential"`): write k, with
    address a_k `(b, h, N, m)`, rate β_k and candidate c_k `(b, h, N, e)`, does M ← M + a_kᵀ (β_k ⊙ (c_k − a_k M))
    on each head's channels. In closed form over `chunk` writes at a time (exact, as DeltaNet's chunked form): within
    a chunk the errors r_k = c_k − a_k M_(k−1) solve, per channel, the unit lower triangular system
    r_k + Σ_(l<k) (a_k · a_l) β_l r_l = c_k − a_k M, with M the bank entering the chunk, which then becomes
    M + Σ_k a_kᵀ (β_k ⊙ r_k). A write with rate 0 changes nothing, and with g_in ≤ 1 each step is non-expansive
    (the eigenvalues of I − β a aᵀ lie in [0, 1])."""
    b, m, _ = bank.shape
    h, e = rate.shape[1], rate.shape[3]
    rows = bank.view(b, m, h, e).transpose(1, 2)  # (b, h, m, e)
    for start in range(0, address.shape[2], chunk):
        a, beta = address[:, :, start : start + chunk], rate[:, :, start : start + chunk]  # (b, h, C, m), (b, h, C, e)
        first = value[:, :, start : start + chunk] - a @ rows  # c_k − a_k M   (b, h, C, e)
        overlap = torch.tril(a @ a.transpose(-1, -2), diagonal=-1)  # (a_k · a_l) for l < k   (b, h, C, C)
        system = overlap[:, :, None] * beta.transpose(-1, -2)[..., None, :]  # column l scaled by β_l, per channel
        # (b, h, e, C, C) below the diagonal, whose ones `unitriangular` supplies
        errors = torch.linalg.solve_triangular(system, first.transpose(-1, -2)[..., None], upper=False,
                                               unitriangular=True)[..., 0]  # (b, h, e, C)  # fmt: skip
        rows = rows + a.transpose(-1, -2) @ (beta * errors.transpose(-1, -2))
    return rows.transpose(1, 2).reshape(b, m, h * e)


def read_rows(q: Tensor, key: Tensor, value: Tensor, start: int | None, explicit: bool) -> tuple[Tensor, Tensor]:
    """Eq. 2: softmax(Q Kᵀ / sqrt(e) + mask) V for q `(b, h, n, e)` over key/value `(b, h, w, e)`.

    Query i sits at segment column `start + i` and reads rows j <= start + i (`start=None`: every row).
    The fused kernel (`attend`) does not expose the weights, so `explicit=True` computes them in the open;
    both give the same read to float tolerance. Returns (read `(b, h, n, e)`, weights `(b, h, n, w)` or None).
    """
    if not explicit:
        return attend(q, key, value, start), None
    scores = q @ key.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (b, h, n, w)
    if start is not None:
        n, w = scores.shape[-2:]
        column = start + torch.arange(n, device=q.device)
        hidden = torch.arange(w, device=q.device)[None, :] > column[:, None]  # (n, w)
        scores = scores.masked_fill(hidden, float("-inf"))
    weights = scores.softmax(-1)
    return weights @ value, weights


def read_gated_mean(q: Tensor, key: Tensor, value: Tensor, explicit: bool) -> tuple[Tensor, Tensor]:
    """`memory_read_center="gated"`: key/value `(b, h, m + 1, e)` hold the centred rows and, last, their mean. The
    rows are read by eq. 2's softmax over the m rows alone; the mean is added through a gate of its own,
    σ(q · k_mean / sqrt(e)) per token and head: the score the softmax would have given it as one more column
    (`"split"`), squashed on its own, so what the rows share is read without taking the softmax's mass from the
    rows. Returns (read `(b, h, n, e)`, weights `(b, h, n, m + 1)` or None: the rows' softmax weights, then the
    gate, so a token's weights sum to 1 + its gate)."""
    rows_read, weights = read_rows(q, key[..., :-1, :], value[..., :-1, :], None, explicit)
    gate = torch.sigmoid(q @ key[..., -1:, :].transpose(-1, -2) / math.sqrt(q.shape[-1]))  # (b, h, n, 1)
    read = rows_read + gate * value[..., -1:, :].to(rows_read.dtype)
    return read, (torch.cat([weights, gate.to(weights.dtype)], -1) if explicit else None)


def write_rows(bank: Tensor, rows: Tensor, start: int, valid: Tensor) -> Tensor:
    """The bank after a segment pass over columns `[start, start + n)`: eq. 6's rows `(b, n, d)` replace
    bank rows `start..start+n-1` `(b, m, d)` where the column holds a real token (`valid` `(b, n)`); rows of
    padding columns and all other rows pass through unchanged (DESIGN §2)."""
    n = rows.shape[1]
    written = torch.where(valid[..., None], rows, bank[:, start : start + n])
    return torch.cat([bank[:, :start], written, bank[:, start + n :]], 1)
