"""The Recurrent Memory Transformer path (`arch="rmt"`, DESIGN §4), decoder-only form used by BABILong.

Each segment is processed as `[memory (read) ; segment tokens ; memory (write)]`. The read copy of the
`k` memory tokens only depends on the memory, so its keys/values per block are computed once when a segment
starts and kept in the cache as a prefix every segment token sees. The write copy runs when a segment is
complete: it attends to the read prefix, every token of the segment and (causally) itself, and its outputs
after the final norm become the memory of the next segment. Both copies run through the model's own decoder
blocks (`block.py`); memory tokens get no rotary rotation, segment tokens keep positions 0..L-1.
ARMT (`armt.py`) runs the same copies with each block's associative read (`associations`).
Notation: `b` batch, `k` memory tokens, `h` heads, `e` head dim, `d` width.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .backbone import SegmentContext
from .state import LayerCache, MemoryState

Association = tuple[Tensor, Tensor] | None  # armt: one block's (A (b, f, d), z (b, f)); None for rmt


def memory_pass(
    blocks: Sequence[nn.Module],
    norm: nn.Module,
    h: Tensor,
    prefixes: list[LayerCache] | None,
    associations: Sequence[Association] | None = None,
) -> tuple[Tensor, list[LayerCache], list[Tensor]]:
    """Run memory tokens `h` `(b, k, d)` through every block, unrotated.

    At block i they see `prefixes[i]`'s prefix keys/values (visible to all of them) and each other causally,
    and read `associations[i]` (armt). Returns the outputs after the final norm `(b, k, d)`, each block's
    cache, whose key/value are the memory tokens' own keys/values `(b, h_kv, k, e)`, and each block's output
    states `(b, k, d)` (before the final norm; what ARMT writes).
    """
    b = h.shape[0]
    ctx = SegmentContext(0, torch.zeros(b, dtype=torch.long, device=h.device), True, None, None)
    caches, outputs = [], []
    for i, block in enumerate(blocks):
        cache = LayerCache() if prefixes is None else prefixes[i]
        association = None if associations is None else associations[i]
        h, _, cache, _ = block(h, ctx=ctx, cache=cache, association=association)
        caches.append(cache)
        outputs.append(h)
    return norm(h), caches, outputs


def read_prefix(
    blocks: Sequence[nn.Module],
    norm: nn.Module,
    state: MemoryState,
    caches: list[LayerCache],
    dtype: torch.dtype,
    associations: Sequence[Association] | None = None,
) -> list[LayerCache]:
    """Give every block the keys/values of the read memory of the current segment.

    Samples inside a segment (offset > 0) have them cached; samples at a boundary get them computed now
    from `state.memory`, the memory entering their segment."""
    cached = caches[0].prefix_key is not None
    if cached and bool((state.offset > 0).all()):
        return caches
    _, fresh, _ = memory_pass(blocks, norm, state.memory.to(dtype), None, associations)
    inside = (state.offset > 0)[:, None, None, None]
    out = []
    for cache, own in zip(caches, fresh, strict=True):
        key, value = own.key, own.value
        if cached:
            key, value = torch.where(inside, cache.prefix_key, key), torch.where(inside, cache.prefix_value, value)
        out.append(LayerCache(cache.key, cache.value, cache.memory_key, cache.memory_value, key, value))
    return out


def write_memory(
    blocks: Sequence[nn.Module],
    norm: nn.Module,
    state: MemoryState,
    caches: list[LayerCache],
    complete: Tensor,
    dtype: torch.dtype,
) -> Tensor:
    """The memory after this segment pass: the write outputs for samples whose segment is now complete
    (`complete` `(b,)`), the unchanged memory for the others. `dtype`: the residual stream's."""
    if not bool(complete.any()):
        return state.memory
    written, _, _ = memory_pass(blocks, norm, state.memory.to(dtype), write_prefixes(caches))
    return torch.where(complete[:, None, None], written.to(state.memory.dtype), state.memory)


def write_prefixes(caches: list[LayerCache]) -> list[LayerCache]:
    """What the write copy sees at each block: the read memory (when there is one) and every token of the
    segment, `(b, h_kv, [k +] segment_length, e)`."""
    if caches[0].prefix_key is None:
        return [LayerCache(prefix_key=c.key, prefix_value=c.value) for c in caches]
    return [
        LayerCache(prefix_key=torch.cat([c.prefix_key, c.key], 2), prefix_value=torch.cat([c.prefix_value, c.value], 2))
        for c in caches
    ]
