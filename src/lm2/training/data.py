"""Training data streams. Every batch is a pure function of (seed, step, sample index), so a resumed run
sees exactly the batches an uninterrupted one would, and any split of a global batch over processes or
accumulation steps yields the same samples.

- `BabilongStream`: bAbI questions with their facts hidden in background text, built on the fly at the
  current curriculum length (DESIGN §6); labels cover the answer tokens (and the closing `</s>`) only.
- `TextStream`: language modelling on one packed token stream of a folder of .txt files.
- `ShardStream` (`shards.py`): language modelling on pre-tokenized shards read by memory map, at any scale.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from lm2.data import (
    BabiSample,
    Haystack,
    babi_samples,
    build_sample,
    count_tokens,
    encode_sample,
    story_last_label,
)

IGNORE = -100
logger = logging.getLogger(__name__)


@dataclass
class Batch:
    input_ids: Tensor  # (b, L) right-padded
    attention_mask: Tensor  # (b, L)
    labels: Tensor  # (b, L), -100 where not scored
    starts: Tensor | None = None  # (b, L) bool: a document starts here and the sample's memory restarts

    def to(self, device: torch.device | str) -> Batch:
        starts = None if self.starts is None else self.starts.to(device)
        return Batch(self.input_ids.to(device), self.attention_mask.to(device), self.labels.to(device), starts)


def sample_rng(seed: int, step: int, index: int) -> random.Random:
    """The random source of sample `index` of the batch at `step` (string seeds hash with SHA-512)."""
    return random.Random(f"{seed}/{step}/{index}")


def collate(items: list[dict], pad_id: int) -> Batch:
    """`encode_sample`-style items (`input_ids`, `answer_start`) → a right-padded batch; labels score the
    tokens from `answer_start` on (0 scores every token)."""
    width = max(len(item["input_ids"]) for item in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, IGNORE)
    for row, item in enumerate(items):
        tokens = torch.tensor(item["input_ids"])
        ids[row, : len(tokens)], mask[row, : len(tokens)] = tokens, 1
        start = item["answer_start"]
        labels[row, start : len(tokens)] = tokens[start:]
    return Batch(ids, mask, labels)


def split_train_validation(samples: list[BabiSample], fraction: float) -> tuple[list, list]:
    """Hold out whole stories at the end of the file (questions of one story share facts)."""
    cut = int(len(samples) * (1 - fraction))
    while 0 < cut < len(samples) and samples[cut].facts[:1] == samples[cut - 1].facts[:1]:
        cut += 1  # do not split a story
    return samples[:cut], samples[cut:]


def input_length(segments: int, segment_length: int | None, reserve: int) -> int:
    """Tokens of background + facts so that a sample fills about `segments` segments (0: facts only)."""
    if segments == 0:
        return 0
    if segment_length is None:
        raise ValueError("a curriculum over segments needs model.segment_length")
    return max(0, segments * segment_length - reserve)


class BabilongStream:
    """On-the-fly BABILong samples of several bAbI tasks at a given input length."""

    def __init__(self, tasks: list[str], source: str | None, haystack: Haystack | None, tokenizer,
                 seed: int, validation_fraction: float, generated: int = 10000,
                 drop_shortcut: bool = False) -> None:  # fmt: skip
        """`drop_shortcut`: train only on the questions whose answer is not the story's latest fact's place
        (`data.drop_shortcut`); validation keeps them all."""
        self.tokenizer, self.haystack, self.seed = tokenizer, haystack, seed
        self.train: dict[str, list[BabiSample]] = {}
        self.validation: dict[str, list[BabiSample]] = {}
        for task in tasks:
            self.train[task], self.validation[task] = split_train_validation(
                babi_samples(task, "train", source, seed=seed, num_generated=generated), validation_fraction
            )
            if drop_shortcut:
                kept = [s for s in self.train[task] if story_last_label(s.facts, s.question, task) != s.answer]
                if not kept:
                    raise ValueError(f"data.drop_shortcut: every training question of {task} is answered by the "
                                     "place named in its story's latest fact; nothing is left to train on")  # fmt: skip
                logger.info("data.drop_shortcut: %s: %d of %d training questions kept (the place named in "
                            "their story's latest fact is not their answer)", task, len(kept),
                            len(self.train[task]))  # fmt: skip
                self.train[task] = kept
        self.tasks = list(self.train)
        self._counts: dict[str, int] = {}  # token counts of background sentences and facts, memoised
        self._pools: dict[tuple[str, int], list[BabiSample]] = {}

    def count(self, texts: Sequence[str]) -> list[int]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._counts]
        if missing:
            self._counts.update(zip(missing, count_tokens(self.tokenizer, missing), strict=True))
        return [self._counts[t] for t in texts]

    def pool(self, task: str, max_facts: int = 0) -> list[BabiSample]:
        """Training questions of `task` whose story has at most `max_facts` facts (0: all); when a task has
        none that short, its questions with the fewest facts."""
        if not max_facts:
            return self.train[task]
        key = (task, max_facts)
        if key not in self._pools:
            short = [s for s in self.train[task] if len(s.facts) <= max_facts]
            if not short:
                fewest = min(len(s.facts) for s in self.train[task])
                short = [s for s in self.train[task] if len(s.facts) == fewest]
            self._pools[key] = short
        return self._pools[key]

    def item(self, step: int, index: int, length: int | Sequence[int], jitter: int = 0, max_facts: int = 0) -> dict:
        """Sample `index` of the batch at `step`, of input `length` tokens (a sequence: one of them, drawn for
        this sample); `jitter` > 0 shortens its input by a random 0..jitter tokens (so that the question does
        not always sit at the same place in its segment); `max_facts` > 0 draws only questions whose story has
        at most that many facts."""
        rng = sample_rng(self.seed, step, index)
        if not isinstance(length, int):
            length = length[rng.randrange(len(length))]
        task = self.tasks[rng.randrange(len(self.tasks))]
        pool = self.pool(task, max_facts)
        babi = pool[rng.randrange(len(pool))]
        if jitter and length:
            length = max(1, length - rng.randint(0, jitter))
        return self.encode(babi, length, rng)

    def encode(self, babi: BabiSample, length: int, rng: random.Random, with_answer: bool = True) -> dict:
        facts_tokens = sum(self.count([" " + fact for fact in babi.facts]))
        length = max(length, facts_tokens) if length else 0
        sample = build_sample(babi, length, self.tokenizer, self.haystack, rng, count=self.count)
        return encode_sample(self.tokenizer, sample, with_answer=with_answer) | {"sample": sample}

    def batch(
        self, step: int, indices: range, length: int | Sequence[int], jitter: int = 0, max_facts: int = 0
    ) -> Batch:
        items = [self.item(step, i, length, jitter, max_facts) for i in indices]
        return collate(items, self.tokenizer.pad_token_id)

    def validation_set(self, task: str, length: int, count: int) -> list[dict]:
        """A fixed validation set: the first `count` held-out questions of `task` at `length`."""
        rng = random.Random(f"validation/{self.seed}/{task}/{length}")
        return [self.encode(babi, length, rng) for babi in self.validation[task][:count]]


class TextStream:
    """Random windows of one packed token stream (documents joined with `</s>`)."""

    def __init__(self, folder: str | Path, tokenizer, sequence_length: int, seed: int, cache: Path) -> None:
        self.sequence_length, self.seed = sequence_length, seed
        cache.mkdir(parents=True, exist_ok=True)
        files = sorted(Path(folder).rglob("*.txt"))
        if not files:
            raise ValueError(f"data.text_dir={str(folder)!r} holds no .txt files")
        stamp = "\n".join(f"{f}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files)
        path = cache / f"tokens-{hashlib.sha256(stamp.encode()).hexdigest()[:16]}.npy"
        if path.exists():
            tokens = np.load(path)
        else:
            ids: list[int] = []
            for f in files:
                ids += tokenizer.encode(f.read_text(errors="replace"), add_special_tokens=False)
                ids.append(tokenizer.eos_token_id)
            tokens = np.asarray(ids, dtype=np.int32)
            np.save(path, tokens)
        if len(tokens) <= sequence_length + 1:
            raise ValueError(f"data.text_dir={str(folder)!r} has {len(tokens)} tokens, fewer than one sequence")
        self.tokens = torch.from_numpy(tokens.astype(np.int64))
        self.split = int(len(tokens) * 0.98)  # the last 2 % are for validation

    def item(self, step: int, index: int, validation: bool = False) -> dict:
        rng = sample_rng(self.seed, step, index)
        low, high = (self.split, len(self.tokens)) if validation else (0, self.split)
        start = rng.randrange(low, high - self.sequence_length - 1)
        return {"input_ids": self.tokens[start : start + self.sequence_length].tolist(), "answer_start": 0}

    def batch(self, step: int, indices: range, length: int = 0, jitter: int = 0, max_facts: int = 0) -> Batch:
        return collate([self.item(step, i) for i in indices], 0)
