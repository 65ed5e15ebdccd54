"""The state that crosses calls: `MemoryState` (streaming state and generation cache in one structure).

Notation: `b` batch, `w` cached columns of the current segment, `m` memory rows, `k` memory tokens,
`h` heads, `e` head dim, `d` model width, `l` blocks, `f` ARMT feature dim.

A state describes each sample at one point of its stream: the memory that crosses segments (LM2 bank, RMT
memory tokens, ARMT associative matrices and their normalisers) and, when the sample stopped inside a
segment, that unfinished segment (DESIGN §3): the self-attention K/V of its tokens per block and, for LM2,
the memory K/V per block. Samples of a batch may stand at different offsets inside their segments
(padding, generation), so `offset` is per sample and column j of a cache is valid for sample i iff
`j < offset[i]`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass
class LayerCache:
    """One block's cache for the current segment; any field may be `None` when the block has no such path."""

    key: Tensor | None = None  # (b, h_kv, w, e) rotated self-attention keys of the segment's tokens
    value: Tensor | None = None  # (b, h_kv, w, e)
    memory_key: Tensor | None = None  # lm2: (b, h_mem, w | m, e) keys of the bank rows this block reads
    memory_value: Tensor | None = None
    prefix_key: Tensor | None = None  # rmt: (b, h_kv, k, e) keys of the read-memory tokens (no rotary)
    prefix_value: Tensor | None = None
    write_weight: Tensor | None = None  # lm2, memory_write="addressed": (b, m, d) Σ_i u_ij of the segment so far
    write_sum: Tensor | None = None  # (b, m, d) Σ_i u_ij c_i, applied to the bank when the segment completes
    # memory_write="sequential": each token's write of the segment so far, applied in order when it completes
    write_address: Tensor | None = None  # (b, h_mem, w, m) where it writes
    write_rate: Tensor | None = None  # (b, h_mem, w, e) β = g_in / |a|² (0 for padding)
    write_value: Tensor | None = None  # (b, h_mem, w, e) its candidate

    def apply(self, fn: Callable[[Tensor], Tensor]) -> LayerCache:
        return LayerCache(*(None if t is None else fn(t) for t in self.tensors()))

    def tensors(self) -> tuple[Tensor | None, ...]:
        return (
            self.key,
            self.value,
            self.memory_key,
            self.memory_value,
            self.prefix_key,
            self.prefix_value,
            self.write_weight,
            self.write_sum,
            self.write_address,
            self.write_rate,
            self.write_value,
        )


@dataclass
class MemoryState:
    """What `forward` returns as `out.memory` and accepts back as `memory=` to continue a stream.

    memory: lm2 `(b, m, d)` the bank after the last block; rows below `offset` were already rewritten by
        the unfinished segment, the others still hold the bank that entered it (with
        `memory_write="addressed"`: the bank entering the unfinished segment, whose writes wait in the
        caches). rmt `(b, k, d)` the memory tokens entering the current segment; armt the same with
        `armt_memory_tokens="recurrent"`, else `None`. vanilla: `None`.
    offset: `(b,)` tokens of the current, unfinished segment already processed (0: at a boundary).
    layers: one `LayerCache` per block, or `None` when no sample is inside a segment.
    arch: the architecture that produced the state (checked when it is passed back).
    associative: armt `(b, l, f, d)` each block's associative matrix A entering the current segment (fp32,
        fp64 for fp64 models); else `None`.
    normalizer: armt `(b, l, f)` each block's normaliser z; else `None`.
    """

    memory: Tensor | None
    offset: Tensor
    layers: list[LayerCache] | None = None
    arch: str = "lm2"
    associative: Tensor | None = None
    normalizer: Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.offset.shape[0]

    @property
    def nbytes(self) -> int:
        """Bytes held by all tensors of the state: the memory crossing segments, the offsets and the caches
        of an unfinished segment."""
        tensors = [self.memory, self.offset, self.associative, self.normalizer]
        tensors += [t for layer in self.layers or [] for t in layer.tensors()]
        return sum(t.nbytes for t in tensors if t is not None)

    def apply(self, fn: Callable[[Tensor], Tensor]) -> MemoryState:
        """A new state with `fn` applied to every tensor (same structure)."""
        return replace(
            self,
            memory=None if self.memory is None else fn(self.memory),
            offset=fn(self.offset),
            layers=None if self.layers is None else [layer.apply(fn) for layer in self.layers],
            associative=None if self.associative is None else fn(self.associative),
            normalizer=None if self.normalizer is None else fn(self.normalizer),
        )

    def detach(self) -> MemoryState:
        """Cut the autograd graph (truncated backpropagation through time across calls)."""
        return self.apply(Tensor.detach)

    def detach_memory(self) -> MemoryState:
        """Cut the graph of what crosses segments only (`bptt_segments`): the memory and the associative
        state; the caches of an unfinished segment stay attached."""
        return replace(
            self,
            **{
                name: getattr(self, name).detach()
                for name in ("memory", "associative", "normalizer")
                if getattr(self, name) is not None
            },
        )

    def to(self, device: torch.device | str) -> MemoryState:
        return self.apply(lambda t: t.to(device))

    def index_select(self, index: Tensor) -> MemoryState:
        """Reorder or pick samples (beam search)."""
        return self.apply(lambda t: t.index_select(0, index.to(t.device)))

    def repeat_interleave(self, repeats: int) -> MemoryState:
        """Repeat each sample `repeats` times in place (expanding a batch for beams or samples)."""
        return self.apply(lambda t: t.repeat_interleave(repeats, dim=0))


def merge_columns(cached: Tensor | None, new: Tensor, start: int, offset: Tensor, aligned: bool = False) -> Tensor:
    """Combine a segment's cached columns with freshly computed ones, per sample.

    cached: `(b, h, w, e)` or None (then nothing is cached and `start` is 0); new: `(b, h, n, e)` for segment
    columns `[start, start + n)`; offset: `(b,)`, the columns below `offset[i]` are valid in the cache;
    aligned: the caller knows that every `offset[i] == start`.
    Returns `(b, h, max(w, start + n), e)`: the cache where a column is below the sample's offset, the new
    values where the column was computed now, the cache (or zeros) elsewhere (masked by causality).
    """
    if cached is None:
        return new
    if aligned and cached.shape[2] == start:  # the common case (every decoding step): append the columns
        return torch.cat([cached.to(new.dtype), new], 2)
    n, w = new.shape[2], cached.shape[2]
    width = max(w, start + n)
    cached = F.pad(cached, (0, 0, 0, width - w))
    placed = F.pad(new, (0, 0, start, width - start - n))
    column = torch.arange(width, device=new.device)
    take_new = (column >= start) & (column < start + n) & (column[None, :] >= offset[:, None])  # (b, width)
    return torch.where(take_new[:, None, :, None], placed, cached.to(new.dtype))
