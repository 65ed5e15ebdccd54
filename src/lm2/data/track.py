"""A synthetic state-tracking task (the memory ladder's `track`, DESIGN §8): `key value` assignments spread
over every segment, keys repeat and a later assignment overwrites an earlier one, and the last two tokens ask
one key and answer its latest value — the structure of bAbI qa1 ("where is Mary?" after many moves).

Each segment holds `per_segment` assignments at random places among noise tokens. The asked key is drawn
uniformly among the keys assigned; the answer is the value of that key's last assignment. "Last value
seen" — answering the value of the input's last assignment whatever its key — is the task's shortcut (qa1's
"last location"), and `shortcut_accuracy` reports how often it is right. Token ids as in `lm2.data.recall`:
0..3 reserved, then keys, values and noise; `labels` score the answer token alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .recall import RESERVED, SyntheticTask


@dataclass(frozen=True)
class TrackTask(SyntheticTask):
    segments: int = 4
    keys: int = 4
    per_segment: int = 1

    def __post_init__(self) -> None:
        if self.segments < 1:
            raise ValueError(f"segments={self.segments} must be >= 1")
        if self.keys < 1 or self.values < 2:
            raise ValueError(f"keys={self.keys} must be >= 1 and values={self.values} >= 2")
        if self.per_segment < 1 or 2 * self.per_segment + 2 > self.segment_length:
            raise ValueError(
                f"per_segment={self.per_segment} assignments (2 tokens each) and the 2-token question do not "
                f"fit in segment_length={self.segment_length}; allowed: 1..{(self.segment_length - 2) // 2}"
            )
        self.check_vocabulary()

    def batch(self, size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """`(input_ids, labels)`, both `(size, length)`; the answer is `input_ids[:, -1]`."""
        ids, _ = self.sample(size, generator)
        labels = torch.full_like(ids, -100)
        labels[:, -1] = ids[:, -1]
        return ids, labels

    def sample(self, size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """`(input_ids (size, length), last_value (size,))`: the inputs and what the shortcut answers."""
        key0, value0, noise0 = RESERVED, RESERVED + self.keys, RESERVED + self.keys + self.values
        n = self.segments * self.per_segment  # assignments per sample
        ids = torch.randint(noise0, self.vocab_size, (size, self.length), generator=generator)
        keys = torch.randint(key0, value0, (size, n), generator=generator)
        values = torch.randint(value0, noise0, (size, n), generator=generator)
        # Assignment slots: `per_segment` distinct 2-token slots per segment; the last segment keeps its last
        # two tokens for the question.
        slots = self.segment_length // 2
        usable = torch.full((self.segments, slots), True)
        usable[-1, -1] = False
        scores = torch.rand(size, self.segments, slots, generator=generator).masked_fill(~usable, -1.0)
        chosen = scores.topk(self.per_segment, dim=-1).indices.sort(-1).values  # (size, segments, per_segment)
        base = torch.arange(self.segments)[None, :, None] * self.segment_length
        position = (base + 2 * chosen).reshape(size, n)  # in time order
        rows = torch.arange(size)[:, None]
        ids[rows, position] = keys
        ids[rows, position + 1] = values
        assigned = torch.zeros(size, self.keys, dtype=torch.bool).scatter_(1, keys - key0, True)  # (size, keys)
        draw = torch.rand(size, self.keys, generator=generator).masked_fill(~assigned, -1.0)
        asked = draw.argmax(1) + key0  # (size,) a key drawn uniformly among the assigned ones
        latest = torch.where(keys == asked[:, None], torch.arange(n), -1).max(1).values  # last assignment of it
        ids[:, -2] = asked
        ids[:, -1] = values[torch.arange(size), latest]
        return ids, values[:, -1]

    def shortcut_share(self, ids: Tensor, answers: Tensor) -> float:
        """The share of `answers` (one per row of `ids`) that are the row's last value seen — the shortcut's
        answer, read from the inputs (value tokens appear only in assignments)."""
        value0, noise0 = RESERVED + self.keys, RESERVED + self.keys + self.values
        body = ids[:, :-2]
        is_value = (body >= value0) & (body < noise0)
        last = torch.where(is_value, torch.arange(body.shape[1]), -1).max(1).values
        return float((body[torch.arange(len(ids)), last] == answers).float().mean())

    def shortcut_accuracy(self, samples: int = 2000, seed: int = 123) -> float:
        """How often "the value of the last assignment" is the answer (qa1's "last location" shortcut)."""
        ids, last = self.sample(samples, torch.Generator().manual_seed(seed))
        return float((last == ids[:, -1]).float().mean())
