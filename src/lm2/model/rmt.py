"""The Recurrent Memory Transformer path (`arch="rmt"`, DESIGN §4), decoder-only form used by BABILong.

Each segment is processed as `[memory (read) ; segment tokens ; memory (write)]`. The read copy of the
`k` memory tokens only depends on the memory, so its keys/values per block are computed once when a segment
starts and kept in the cache as a prefix every segment token sees. The write copy runs when a segment is
complete: it attends to the read prefix, every token of the segment and (causally) itself, and its outputs
after the final norm become the memory of the next segment. Memory tokens get no rotary rotation; segment
tokens keep positions 0..L-1. Notation: `b` batch, `k` memory tokens, `h` heads, `e` head dim, `d` width.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .backbone import attend
from .state import LayerCache, MemoryState

if TYPE_CHECKING:
    from .modeling import LM2Model


def memory_pass(
    model: LM2Model, h: Tensor, context: list[tuple[Tensor, Tensor]] | None
) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
    """Run memory tokens `h` `(b, k, d)` through every block, unrotated.

    At block i they see `context[i]` (keys/values visible to all of them) and each other causally.
    Returns the outputs after the final norm `(b, k, d)` and each block's own keys/values `(b, h_kv, k, e)`.
    """
    b, k, _ = h.shape
    own = []
    for i, layer in enumerate(model.layers):
        attn = layer.self_attn
        x = layer.input_layernorm(h)
        q = attn.q_proj(x).view(b, k, attn.heads, attn.head_dim).transpose(1, 2)  # (b, h, k, e)
        key, value = attn.project_kv(x)  # (b, h_kv, k, e)
        own.append((key, value))
        visible = 0
        if context is not None:
            key, value = torch.cat([context[i][0], key], 2), torch.cat([context[i][1], value], 2)
            visible = context[i][0].shape[2]
        y = attend(q, key, value, 0, prefix=visible).transpose(1, 2).reshape(b, k, -1)
        h = h + attn.o_proj(y)
        h = h + layer.mlp(layer.post_attention_layernorm(h))
    return model.norm(h), own


def read_prefix(model: LM2Model, state: MemoryState, caches: list[LayerCache]) -> list[LayerCache]:
    """Give every block the keys/values of the read memory of the current segment.

    Samples inside a segment (offset > 0) have them cached; samples at a boundary get them computed now
    from `state.memory`, the memory entering their segment."""
    cached = caches[0].prefix_key is not None
    if cached and bool((state.offset > 0).all()):
        return caches
    _, fresh = memory_pass(model, state.memory.to(model.embed_tokens.weight.dtype), None)
    inside = (state.offset > 0)[:, None, None, None]
    out = []
    for cache, (key, value) in zip(caches, fresh, strict=True):
        if cached:
            key, value = (
                torch.where(inside, cache.prefix_key, key),
                torch.where(inside, cache.prefix_value, value),
            )
        out.append(LayerCache(cache.key, cache.value, cache.memory_key, cache.memory_value, key, value))
    return out


def write_memory(model: LM2Model, state: MemoryState, caches: list[LayerCache], offset: Tensor) -> Tensor:
    """The memory after this segment pass: the write outputs for samples whose segment is now complete
    (`offset == segment_length`), the unchanged memory for the others."""
    complete = offset == model.config.segment_length
    if not bool(complete.any()):
        return state.memory
    context = [
        (torch.cat([c.prefix_key, c.key], 2), torch.cat([c.prefix_value, c.value], 2)) for c in caches
    ]  # (b, h_kv, k + segment_length, e)
    written, _ = memory_pass(model, state.memory.to(model.embed_tokens.weight.dtype), context)
    return torch.where(complete[:, None, None], written.to(state.memory.dtype), state.memory)
