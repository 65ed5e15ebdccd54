"""The Llama-3 backbone parts, in the order the data meets them: norm → rotary → MLP → attention (the block
that joins them with a memory path is `block.py`).

Numerics follow Hugging Face's `modeling_llama.py` (RMSNorm in fp32, rotary angles in fp32), so a Llama
state dict loaded into `arch="vanilla"` gives the same logits. Attention works on one segment at a time:
queries are the segment columns `[start, start + n)`, keys are the segment's cached columns merged with the
new ones (`state.merge_columns`), optionally preceded by `prefix` columns every query may see (RMT's read
memory). Notation: `b` batch, `n` new columns, `w` key columns, `h` heads, `e` head dim, `d` width.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.attention.bias import causal_lower_right
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

from .config import LM2Config
from .state import merge_columns

_SDPA_HAS_GQA = tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 5)


class RMSNorm(nn.Module):
    def __init__(self, width: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.variance_epsilon = eps

    def forward(self, x: Tensor) -> Tensor:
        dtype = x.dtype
        x = x.to(torch.float32) if dtype in (torch.float16, torch.bfloat16) else x
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * x.to(dtype)


class RotaryEmbedding(nn.Module):
    """RoPE with Llama's conventions (any `rope_type` transformers knows, e.g. Llama-3's `"llama3"`)."""

    def __init__(self, config: LM2Config) -> None:
        super().__init__()
        self.config = config
        self.rope_type = config.rope_parameters.get("rope_type", "default")
        inv_freq, self.attention_scaling = self.compute_inv_freq(config)
        self.inv_freq = nn.Buffer(inv_freq, persistent=False)

    @staticmethod
    def compute_inv_freq(config: LM2Config) -> tuple[Tensor, float]:
        rope_type = config.rope_parameters.get("rope_type", "default")
        if rope_type != "default":
            return ROPE_INIT_FUNCTIONS[rope_type](config)
        base, dim = config.rope_parameters["rope_theta"], config.head_dim
        return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float) / dim)), 1.0

    def forward(self, positions: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """positions `(n,)` → cos, sin `(n, e)` in `dtype` (angles computed in fp32 like HF Llama)."""
        freqs = positions[:, None].float() * self.inv_freq.to(device=positions.device, dtype=torch.float)
        emb = torch.cat((freqs, freqs), dim=-1)
        return (emb.cos() * self.attention_scaling).to(dtype), (emb.sin() * self.attention_scaling).to(dtype)


def rotate_half(x: Tensor) -> Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """x `(b, h, n, e)`, cos/sin `(n, e)`."""
    return x * cos + rotate_half(x) * sin


class MLP(nn.Module):
    """SwiGLU feed-forward."""

    def __init__(self, config: LM2Config) -> None:
        super().__init__()
        d, f, bias = config.hidden_size, config.intermediate_size, config.mlp_bias
        self.gate_proj = nn.Linear(d, f, bias=bias)
        self.up_proj = nn.Linear(d, f, bias=bias)
        self.down_proj = nn.Linear(f, d, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


@dataclass
class SegmentContext:
    """Where the new columns sit in their segment, shared by every block of one segment pass."""

    start: int  # first new column (segment-local position)
    offset: Tensor  # (b,) columns already cached per sample; new values are kept only from there on
    aligned: bool  # every sample's offset is `start` (the cache can simply be appended to)
    cos: Tensor | None  # (n, e) rotary tables for positions start..start+n-1; None: no rotation (RMT's
    sin: Tensor | None  # memory tokens)
    valid: Tensor | None = None  # (b, n) which new columns hold a real token (LM2's addressed write counts those)


def attend(q: Tensor, k: Tensor, v: Tensor, start: int | None, prefix: int = 0) -> Tensor:
    """Scaled dot-product attention of `n` query columns over `w` key columns.

    q `(b, h, n, e)`, k/v `(b, h_kv, prefix + w, e)`. Query i sits at column `start + i` and sees key
    column j iff `j <= start + i` (causal); the first `prefix` keys are visible to every query. `start=None`
    means no mask at all (the first LM2 memory block reads the whole bank).
    """
    if q.device.type in ("cpu", "cuda") and torch.is_autocast_enabled(q.device.type):
        # Rotary tables may have promoted q/k; give SDPA (and its causal-bias dispatch) one dtype.
        dtype = torch.get_autocast_dtype(q.device.type)
        q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)
    gqa = q.shape[1] != k.shape[1]
    if gqa and not _SDPA_HAS_GQA:  # torch < 2.5: expand the key/value heads by hand
        k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
        v = v.repeat_interleave(q.shape[1] // v.shape[1], dim=1)
        gqa = False
    extra = {"enable_gqa": True} if gqa else {}
    n, w = q.shape[2], k.shape[2] - prefix
    if start is None or (n == 1 and start + 1 == w):  # no mask, or one query that sees every key (decoding)
        return F.scaled_dot_product_attention(q, k, v, **extra)
    if start == 0 and w == n and prefix == 0:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, **extra)
    if start + n == w:  # the queries are the last n key columns: a lower-right causal mask, which
        # SDPA runs with its fused kernels (no materialised mask)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=causal_lower_right(n, prefix + w), **extra)
    rows = start + torch.arange(n, device=q.device)
    mask = torch.arange(w, device=q.device)[None, :] <= rows[:, None]  # (n, w)
    if prefix:
        mask = torch.cat([mask.new_ones(n, prefix), mask], dim=1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **extra)


def state_projection(layer: nn.Linear, x: Tensor, dtype: torch.dtype) -> Tensor:
    """A projection that feeds a memory state kept in `dtype` (fp32, or fp64 for fp64 models): LM2's W_Q, W_K,
    W_V and gates, ARMT's W_Q, W_K, W_V, W_β. Under autocast it runs in the autocast dtype, as every other
    matmul does (bf16 inputs, fp32 accumulation), and its output is cast to `dtype` for the state arithmetic;
    without autocast it runs in `dtype` (weights cast), so a bf16 model still updates an fp32 state."""
    if x.device.type in ("cpu", "cuda") and torch.is_autocast_enabled(x.device.type):
        return layer(x).to(dtype)
    bias = None if layer.bias is None else layer.bias.to(dtype)
    return F.linear(x.to(dtype), layer.weight.to(dtype), bias)


class SelfAttention(nn.Module):
    """Grouped-query causal self-attention over the current segment (plus an optional visible prefix)."""

    def __init__(self, config: LM2Config) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = (
            config.num_attention_heads,
            config.num_key_value_heads,
            config.head_dim,
        )
        d, bias = config.hidden_size, config.attention_bias
        self.q_proj = nn.Linear(d, self.heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(d, self.kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(d, self.kv_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(self.heads * self.head_dim, d, bias=bias)

    def project_kv(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x `(b, n, d)` → un-rotated keys and values `(b, h_kv, n, e)`."""
        b, n, _ = x.shape
        k = self.k_proj(x).view(b, n, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, n, self.kv_heads, self.head_dim).transpose(1, 2)
        return k, v

    def forward(
        self,
        x: Tensor,
        ctx: SegmentContext,
        key: Tensor | None,
        value: Tensor | None,
        prefix: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """x `(b, n, d)`; key/value: this block's cached columns. Returns output, merged key, merged value."""
        b, n, _ = x.shape
        q = self.q_proj(x).view(b, n, self.heads, self.head_dim).transpose(1, 2)  # (b, h, n, e)
        k, v = self.project_kv(x)  # (b, h_kv, n, e)
        if ctx.cos is not None:
            q, k = apply_rotary(q, ctx.cos, ctx.sin), apply_rotary(k, ctx.cos, ctx.sin)
        key = merge_columns(key, k, ctx.start, ctx.offset, ctx.aligned)  # (b, h_kv, w, e)
        value = merge_columns(value, v, ctx.start, ctx.offset, ctx.aligned)
        if prefix is None:
            y = attend(q, key, value, ctx.start)
        else:
            pk, pv = prefix
            y = attend(q, torch.cat([pk, key], 2), torch.cat([pv, value], 2), ctx.start, prefix=pk.shape[2])
        y = y.transpose(1, 2).reshape(b, n, self.heads * self.head_dim)
        return self.o_proj(y), key, value
