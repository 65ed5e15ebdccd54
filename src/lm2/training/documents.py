"""Restarting a sample's memory at a document start inside a packed window (`data.documents: reset`).

The model streams exactly: `forward(A + B) == forward(B, memory=forward(A).memory)` wherever A ends
(DESIGN §3), and samples of a batch may stand at different offsets inside their segments. So a window is
run in pieces cut at every column where some sample's document starts; between two pieces, the samples
whose document starts there get a fresh state (the initial memory, offset 0: their next token opens a new
segment) and the others continue. Each document then gives exactly the result of running it alone, and one
forward call of the training view covers the whole window (DDP and FSDP see one forward per micro-batch).

Cost: one model call per distinct start column in the micro-batch, and the pieces do not end on segment
boundaries — `reset` is slower than `carry` when documents are short. `bptt_segments` counts segments
within each piece.

Notation: `b` batch, `L` window length, `d` width.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from lm2.model.state import MemoryState


def restart(state: MemoryState, fresh: MemoryState, rows: Tensor) -> MemoryState:
    """`state` with the samples where `rows` `(b,)` is True replaced by `fresh` (a new stream's state).

    Their offset becomes 0, which marks every cached column of the unfinished segment as invalid for them
    (`MemoryState`), so the caches of the other samples can stay as they are."""

    def pick(new: Tensor | None, old: Tensor | None) -> Tensor | None:
        if old is None:
            return None
        where = rows.view(-1, *[1] * (old.dim() - 1))
        return torch.where(where, new.to(old.dtype), old)

    offset = torch.where(rows, 0, state.offset)
    layers = None if bool((offset == 0).all()) else state.layers
    return replace(state, memory=pick(fresh.memory, state.memory), offset=offset, layers=layers,
                   associative=pick(fresh.associative, state.associative),
                   normalizer=pick(fresh.normalizer, state.normalizer))  # fmt: skip


def document_forward(
    model, input_ids: Tensor, attention_mask: Tensor | None, starts: Tensor, return_writes: bool = False
) -> tuple[Tensor, MemoryState, Tensor | None]:
    """`model` (an `LM2Model`) over `input_ids` `(b, L)`, each sample's memory restarting where `starts`
    `(b, L)` is True. Returns the final hidden states `(b, L, d)`, the state after the window and, with
    `return_writes`, the window's write tally (`LM2Model.forward`'s; None otherwise or without LM2 memory)."""
    b, length = input_ids.shape
    cuts = torch.nonzero(starts[:, 1:].any(0)).flatten().add(1).tolist()  # columns where some document starts
    bounds = [0, *cuts, length]
    state, pieces, writes = None, [], None
    for a, z in zip(bounds[:-1], bounds[1:], strict=True):
        if a > 0:
            state = restart(state, model.initial_state(b, input_ids.device), starts[:, a])
        mask = None if attention_mask is None else attention_mask[:, a:z]
        hidden, state, *tally = model(input_ids[:, a:z], mask, state, return_writes=return_writes)
        pieces.append(hidden)
        if tally and tally[0] is not None:
            writes = tally[0] if writes is None else writes + tally[0]
    return torch.cat(pieces, 1), state, writes
