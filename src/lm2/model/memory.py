"""The LM2 memory path of one decoder block (DESIGN §2, paper eqs. 1–6).

Notation: `b` batch, `n` new token columns of the segment, `m` bank rows (= segment length), `h` memory
heads, `e` memory head dim, `d` width. Row i of the bank belongs to token i of the segment ("row-aligned").

The block receives `rows`, the bank rows of its new columns as they enter this block, `(b, n, d)`. It reads
the bank by cross-attention, adds the gated memory to the residual stream, and returns the rewritten rows
for the next block. Reading uses keys/values of
- the whole bank entering the segment, in the first memory block (those rows hold only earlier segments),
- rows j <= i only, in every later memory block (row j there already carries token j of this segment).
The bank, the gates and the update run in fp32 (fp64 for fp64 models) even under bf16 autocast.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .backbone import SegmentContext, attend
from .config import LM2Config
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


class ForgetGate(nn.Linear):
    """W_forget with its bias b_f; a class of its own so initialisation can start it at +forget_bias."""


class LM2Memory(nn.Module):
    """Cross-attention read, output gate, input and forget gates, row update."""

    def __init__(self, config: LM2Config) -> None:
        super().__init__()
        d = config.hidden_size
        self.heads = config.memory_heads
        self.head_dim = d // self.heads
        self.query = config.memory_query
        self.output = config.memory_output
        self.q_proj = nn.Linear(d, d, bias=False)  # W_Q
        self.k_proj = nn.Linear(d, d, bias=False)  # W_K
        self.v_proj = nn.Linear(d, d, bias=False)  # W_V
        self.out_gate = nn.Linear(d, d)  # W_out
        self.in_gate = nn.Linear(d, d)  # W_in
        self.forget_gate = ForgetGate(d, d)  # W_forget, bias b_f (init +forget_bias)
        # Optional learnable gain on E_gated (not in the paper): 0 at init switches the memory off exactly.
        self.gain = None if config.memory_gain is None else nn.Parameter(torch.full((d,), config.memory_gain))

    def _linear(self, layer: nn.Linear, x: Tensor) -> Tensor:
        # Weights are cast to the bank's precision, so a bf16 model still updates an fp32 bank.
        bias = None if layer.bias is None else layer.bias.to(x.dtype)
        return F.linear(x, layer.weight.to(x.dtype), bias)

    def _heads(self, x: Tensor) -> Tensor:
        b, r, _ = x.shape
        return x.view(b, r, self.heads, self.head_dim).transpose(1, 2)  # (b, h, r, e)

    def keys_values(self, rows: Tensor) -> tuple[Tensor, Tensor]:
        """Bank rows `(b, r, d)` → K, V `(b, h, r, e)` (eq. 1)."""
        return self._heads(self._linear(self.k_proj, rows)), self._heads(self._linear(self.v_proj, rows))

    def read_bank_first(
        self, bank: Tensor, offset: Tensor, key: Tensor | None, value: Tensor | None
    ) -> tuple[Tensor, Tensor]:
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
        x: Tensor,
        attn: Tensor,
        rows: Tensor,
        ctx: SegmentContext,
        first: bool,
        bank: Tensor,
        key: Tensor | None,
        value: Tensor | None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One memory step.

        x `(b, n, d)` the normalised block input E_t; attn `(b, n, d)` the self-attention output; rows
        `(b, n, d)` bank rows M_t[i] of the new columns entering this block; bank `(b, m, d)` the stream's
        bank (used by the first memory block); key/value this block's cached memory K/V.
        Returns (gated memory to add to the residual `(b, n, d)`, rows M_{t+1}[i], key, value).
        """
        dtype = rows.dtype
        with torch.autocast(device_type=x.device.type, enabled=False):
            source = (x if self.query == "input" else attn).to(dtype)
            q = self._heads(self._linear(self.q_proj, source))  # eq. 1: Q = E_t W_Q   (b, h, n, e)
            if first:
                key, value = self.read_bank_first(bank, ctx.offset, key, value)  # (b, h, m, e)
                e_mem = attend(q, key, value, None)  # every token reads every row
            else:
                k_new, v_new = self.keys_values(rows)  # K = M_t W_K, V = M_t W_V of the new rows
                key = merge_columns(key, k_new, ctx.start, ctx.offset, ctx.aligned)  # (b, h, w, e)
                value = merge_columns(value, v_new, ctx.start, ctx.offset, ctx.aligned)
                e_mem = attend(q, key, value, ctx.start)  # token i reads rows j <= i
            b, _, n, _ = e_mem.shape
            e_mem = e_mem.transpose(1, 2).reshape(b, n, self.heads * self.head_dim)  # eq. 2: E_mem (b, n, d)
            g_out = torch.sigmoid(self._linear(self.out_gate, e_mem))  # eq. 3: output gate
            gated = g_out * (rows if self.output == "bank" else e_mem)  # eq. 3: E_gated
            if self.gain is not None:
                gated = self.gain.to(dtype) * gated
            g_in = torch.sigmoid(self._linear(self.in_gate, x.to(dtype)))  # eq. 4: input gate, per token
            g_f = torch.sigmoid(self._linear(self.forget_gate, e_mem))  # eq. 5: forget gate
            rows = g_in * torch.tanh(e_mem) + g_f * rows  # eq. 6: M_{t+1}[i]
        return gated, rows, key, value
