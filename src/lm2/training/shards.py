"""`ShardStream`: language-model batches read by memory map from pre-tokenized shards (`lm2 data tokenize`).

Sample `index` of the batch at `step` is global sample number `step * batch_size + index`; the mixture
schedule (`lm2.data.mixture`) maps it to one window of `sequence_length` tokens of one source. So, as for
the other streams, a batch is a pure function of (seed, step, index): under `torchrun` each process reads
only its own indices — distinct windows that together are the single-process batch — and a resumed run
continues at exactly the next window. Nothing is tokenized or held in memory: a window is a slice of a
memory-mapped file.

Documents inside a window (`data.documents`): `carry` lets the memory flow from one into the next; `reset`
gives the batch each window's document starts (`Batch.starts`) and leaves the first token of each document
unscored, and the training view restarts that sample's memory there (`lm2.training.documents`).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import torch

from lm2.data.mixture import MixtureSchedule, load_mixture
from lm2.data.shards import ShardSet
from lm2.data.tokenizer import tokenizer_fingerprint

from .data import IGNORE, Batch

DOCUMENT_MODES = ("carry", "reset")


class ShardStream:
    """Windows of a shard folder or a mixture of them; the last `validation_windows` windows of every source
    are held out for the validation loss."""

    def __init__(self, shards: str, tokenizer, sequence_length: int, seed: int, batch_size: int,
                 documents: str = "carry", validation_windows: int = 16) -> None:  # fmt: skip
        if documents not in DOCUMENT_MODES:
            raise ValueError(f"data.documents={documents!r} is not allowed; choose one of {DOCUMENT_MODES}")
        self.batch_size, self.reset = batch_size, documents == "reset"
        self.mixture = load_mixture(shards)
        self.sets = [ShardSet(source.shards, sequence_length) for source in self.mixture]
        ours = tokenizer_fingerprint(tokenizer)
        sizes = []
        for source, shard_set in zip(self.mixture, self.sets, strict=True):
            made_by = shard_set.manifest["tokenizer"]["fingerprint"]
            if made_by != ours:
                raise ValueError(
                    f"data.shards: {source.shards} was tokenized with tokenizer {made_by}, the run's is {ours}; "
                    f"set data.tokenizer to {source.shards}/tokenizer"
                )
            sizes.append(shard_set.num_windows - validation_windows)
            if sizes[-1] < 1:
                raise ValueError(
                    f"data.shards: {source.shards} has {shard_set.num_windows} windows of {sequence_length} tokens, "
                    f"not more than data.validation_windows={validation_windows}"
                )
        self.sizes, self.validation_windows = sizes, validation_windows
        self.schedule = MixtureSchedule([s.weight for s in self.mixture], sizes, seed)
        # What decides every batch: a checkpoint made with another stream cannot be resumed with this one.
        sources = [(s.weight, shard_set.fingerprint) for s, shard_set in zip(self.mixture, self.sets, strict=True)]
        record = [sequence_length, seed, batch_size, validation_windows, documents, sources]
        self.fingerprint = hashlib.sha256(json.dumps(record).encode()).hexdigest()[:16]

    def window(self, sample: int) -> tuple[int, int]:
        """(source, window) of global sample number `sample`."""
        return self.schedule(sample)

    def batch(self, step: int, indices: range, *unused: object) -> Batch:
        """Samples `indices` of the global batch at `step` (the other arguments of the BABILong stream's
        `batch` do not apply)."""
        places = [self.window(step * self.batch_size + i) for i in indices]
        return self._collate([self.sets[s].window(w) for s, w in places])

    def validation_batch(self) -> Batch:
        """Every source's held-out windows (the last `validation_windows`), never trained on."""
        windows = [shard_set.window(size + k) for shard_set, size in zip(self.sets, self.sizes, strict=True)
                   for k in range(self.validation_windows)]  # fmt: skip
        return self._collate(windows)

    def _collate(self, windows: list[tuple[np.ndarray, np.ndarray]]) -> Batch:
        ids = torch.from_numpy(np.stack([w for w, _ in windows]))  # (b, L)
        labels = ids.clone()
        starts = None
        if self.reset:
            at = [columns for _, columns in windows]
            rows = np.repeat(np.arange(len(at)), [len(columns) for columns in at])
            starts = torch.zeros(ids.shape, dtype=torch.bool)
            starts[torch.from_numpy(rows), torch.from_numpy(np.concatenate(at))] = True
            labels[starts] = IGNORE  # a document's first token is not predicted from the previous document
        return Batch(ids, torch.ones_like(ids), labels, starts)
