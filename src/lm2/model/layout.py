"""Placing a (possibly padded) batch on the segment grid, and back.

Segments are counted from each sample's first real token (DESIGN §3), and a sample continuing a stream
stands at its own offset inside its current segment. So the model does not run on the input columns: it
runs on a *grid* where sample i's j-th real token sits at segment column `offset[i] + j`. On that grid every
sample's segment boundaries fall on the same columns, segments can be processed for the whole batch at once,
and padding only ever appears after a sample's tokens (where it is never written to the memory) or before
its offset (where the cache supplies the columns). Grid column 0 is segment column `low = min(offset)`.

Each input position reports the output of the latest real token at or before it: a real token its own, a
pad after real tokens the last real token's (so right-padded prompts generate correctly from
`logits[:, -1]`), a leading pad nothing (zeros).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class GridLayout:
    ids: Tensor  # (b, g) token ids on the grid (pad id where a sample has no token)
    valid: Tensor  # (b, g) bool: the column holds a real token of the sample
    low: int  # segment column of grid column 0
    source: Tensor  # (b, L) grid column each input position reports, -1 for none
    identity: bool = False  # the input is the grid (dense and aligned): source[:, j] == j

    @property
    def width(self) -> int:
        return self.ids.shape[1]


def grid_layout(input_ids: Tensor, attention_mask: Tensor | None, offset: Tensor, pad_id: int) -> GridLayout:
    """input_ids `(b, L)`, attention_mask `(b, L)` (1 real, 0 pad) or None, offset `(b,)`."""
    b, length = input_ids.shape
    device = input_ids.device
    low = int(offset.min())
    aligned = bool((offset == low).all())
    if attention_mask is None or bool(attention_mask.bool().all()):
        if aligned:  # the common case: a dense batch at a shared offset is already on the grid
            source = torch.arange(length, device=device).expand(b, length)
            return GridLayout(input_ids, torch.ones_like(input_ids, dtype=torch.bool), low, source, True)
        mask = torch.ones_like(input_ids, dtype=torch.bool)
    else:
        mask = attention_mask.bool()
    rank = mask.long().cumsum(1) - 1  # (b, L) index of the latest real token, -1 before the first
    column = offset[:, None] - low + rank.clamp(min=0)  # (b, L) its grid column
    width = int((offset + mask.sum(1)).max()) - low
    ids = input_ids.new_full((b, width), pad_id)
    valid = torch.zeros(b, width, dtype=torch.bool, device=device)
    rows = torch.arange(b, device=device)[:, None].expand(b, length)
    ids[rows[mask], column[mask]] = input_ids[mask]
    valid[rows[mask], column[mask]] = True
    return GridLayout(ids, valid, low, torch.where(rank >= 0, column, -1))


def segment_slices(low: int, high: int, span: int | None) -> list[tuple[int, int]]:
    """Cut segment columns `[low, high)` at multiples of `span` (None: one unbounded segment).

    Returns `(first, last)` column pairs relative to the current segment start of the stream, i.e. the
    first pair may start inside a segment and every later one starts at a boundary."""
    if span is None:
        return [(low, high)]
    cuts, a = [], low
    while a < high:
        z = min(high, (a // span + 1) * span)
        cuts.append((a, z))
        a = z
    return cuts


def gather_outputs(pieces: Tensor, source: Tensor) -> Tensor:
    """pieces `(b, g, d)` on the grid, source `(b, K)` → `(b, K, d)`, zeros where source is -1."""
    index = source.clamp(min=0)[..., None].expand(-1, -1, pieces.shape[-1])
    out = pieces.gather(1, index)
    return out.masked_fill((source < 0)[..., None], 0.0)


def compact_order(mask: Tensor) -> Tensor:
    """A permutation `(b, L)` that moves each sample's real positions first, in order (for the LM loss)."""
    return torch.argsort((~mask.bool()).to(torch.int8), dim=1, stable=True)
