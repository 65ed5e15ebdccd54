"""A synthetic cross-segment recall task: key→value pairs in the first segment, noise after, a query for
one key at the very end. Only a model that carries information across segments can answer above chance.

Token ids: 0..3 are reserved (pad, bos, eos, answer separator), then `keys` key tokens, `values` value
tokens, and the remaining ids are noise. The answer is the last token of each sequence; `labels` score it
alone (Hugging Face convention: -100 elsewhere).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from itertools import combinations_with_replacement

import torch
from torch import Tensor

RESERVED = 4


@dataclass(frozen=True)
class SyntheticTask:
    """What the synthetic memory tasks share: token ids `RESERVED + keys + values + noise`, inputs of
    `segments` segments, one answer among `values`."""

    vocab_size: int = 64
    segment_length: int = 16
    segments: int = 3
    keys: int = 8
    values: int = 8

    def check_vocabulary(self) -> None:
        if RESERVED + self.keys + self.values >= self.vocab_size:
            raise ValueError(
                f"vocab_size={self.vocab_size} leaves no noise tokens after {RESERVED} reserved, "
                f"{self.keys} keys and {self.values} values"
            )

    @property
    def length(self) -> int:
        return self.segments * self.segment_length

    @property
    def chance(self) -> float:
        return 1.0 / self.values


@dataclass(frozen=True)
class RecallTask(SyntheticTask):
    pairs: int = 1

    def __post_init__(self) -> None:
        if self.pairs > self.keys:
            raise ValueError(f"pairs={self.pairs} must be <= keys={self.keys} (keys are distinct)")
        if 2 * self.pairs > self.segment_length:
            raise ValueError(f"pairs={self.pairs} do not fit in segment_length={self.segment_length}")
        if self.segments < 2 or self.segment_length < 2:
            raise ValueError(f"segments={self.segments} and segment_length={self.segment_length} must be >= 2")
        self.check_vocabulary()

    def batch(self, size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """`(input_ids, labels)`, both `(size, length)`; the answer is `input_ids[:, -1]`."""
        key0, value0, noise0 = RESERVED, RESERVED + self.keys, RESERVED + self.keys + self.values
        ids = torch.randint(noise0, self.vocab_size, (size, self.length), generator=generator)
        keys = torch.argsort(torch.rand(size, self.keys, generator=generator), dim=1)[:, : self.pairs] + key0
        values = torch.randint(value0, noise0, (size, self.pairs), generator=generator)
        ids[:, 0 : 2 * self.pairs : 2] = keys
        ids[:, 1 : 2 * self.pairs : 2] = values
        asked = torch.randint(0, self.pairs, (size,), generator=generator)
        rows = torch.arange(size)
        ids[:, -2] = keys[rows, asked]
        ids[:, -1] = values[rows, asked]
        labels = torch.full_like(ids, -100)
        labels[:, -1] = ids[:, -1]
        return ids, labels

    def shortcut_share(self, ids: Tensor, answers: Tensor) -> float | None:
        """The share of `answers` (one per row of `ids`) that are one of the row's stored values: what a model
        answering from the stored-values shortcut always does (None with one pair: then it is the task)."""
        if self.pairs == 1:
            return None
        stored = ids[:, 1 : 2 * self.pairs : 2]
        return float((stored == answers[:, None]).any(1).float().mean())

    def shortcut(self) -> tuple[float, float]:
        """(accuracy, cross-entropy) of the "stored values" shortcut, exactly: a model that knows which values
        the pairs hold but not which key holds which answers the value stored most often (ties split evenly),
        and its best loss puts probability count/pairs on each stored value. With one pair it is the task
        itself (1.0, 0.0); with 4 pairs of 8 values it answers 41.2 % at a loss of 1.14 nats against chance's
        12.5 % and 2.08. Values are drawn with replacement, so repeats are averaged over their multinomial
        probabilities; the same at every length."""
        accuracy = loss = 0.0
        for stored in combinations_with_replacement(range(self.values), self.pairs):
            counts = Counter(stored).values()
            weight = math.factorial(self.pairs) / math.prod(math.factorial(c) for c in counts)
            weight /= self.values**self.pairs  # the multiset's probability
            top = max(counts)
            ties = sum(c == top for c in counts)
            accuracy += weight * sum(c / self.pairs for c in counts if c == top) / ties
            loss -= weight * sum(c / self.pairs * math.log(c / self.pairs) for c in counts)
        return accuracy, loss
