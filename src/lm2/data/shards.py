"""Pre-tokenized shards: the on-disk form of a tokenized corpus, read by memory map.

A shard folder holds
- `shard-NNNNN.bin`: the token ids of whole documents, each followed by `</s>`, as raw little-endian
  `uint16` (when the vocabulary has at most 65,536 ids) or `uint32`;
- `shard-NNNNN.idx`: the offsets (raw `uint64`) where each document starts in that shard, ascending, the
  first 0;
- `manifest.json`: the format, the source, the tokenizer (fingerprint, size, `</s>` id), the token dtype,
  one entry per finished shard (tokens, documents written, source documents read, empty ones included) and
  the totals; `complete` once the source is exhausted;
- `tokenizer/`: the tokenizer that made it (`save_pretrained`).

A shard is written under a temporary name and renamed when complete, and only then enters the manifest (also
replaced atomically), so a folder never lists a partial shard; `lm2.data.pretokenize` continues an
interrupted run from the last listed one.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lm2.files import write_atomic

FORMAT = "lm2-shards/1"
MANIFEST = "manifest.json"
PROGRESS_KEYS = ("shards", "tokens", "documents", "complete")  # manifest keys that grow as a run goes


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits, else uint32."""
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


def shard_name(index: int) -> str:
    return f"shard-{index:05d}"


def write_manifest(folder: Path, manifest: dict) -> None:
    write_atomic(Path(folder) / MANIFEST, json.dumps(manifest, indent=1) + "\n")


def read_manifest(folder: Path) -> dict | None:
    path = Path(folder) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


class ShardWriter:
    """Writes one shard: `add` whole documents, then `close` renames the files into place."""

    def __init__(self, folder: Path, index: int, dtype: np.dtype) -> None:
        self.folder, self.name, self.dtype = Path(folder), shard_name(index), dtype
        self.tmp = self.folder / f".{self.name}.bin.tmp"
        self.file = open(self.tmp, "wb")  # noqa: SIM115 - closed in close()
        self.starts: list[int] = []
        self.tokens = 0
        self.read = 0  # source documents consumed since the previous shard (empty ones included)

    def add(self, ids: np.ndarray) -> None:
        """One document's ids (its `</s>` included)."""
        self.starts.append(self.tokens)
        self.file.write(np.ascontiguousarray(ids, dtype=self.dtype).tobytes())
        self.tokens += len(ids)

    def close(self) -> dict:
        """Make the shard durable under its final name; returns its manifest entry."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        index = self.folder / f".{self.name}.idx.tmp"
        np.asarray(self.starts, dtype=np.uint64).tofile(index)
        os.replace(index, self.folder / f"{self.name}.idx")
        os.replace(self.tmp, self.folder / f"{self.name}.bin")
        return {"name": self.name, "tokens": self.tokens, "documents": len(self.starts), "read": self.read}

    def discard(self) -> None:
        self.file.close()
        self.tmp.unlink(missing_ok=True)


@dataclass
class Shard:
    tokens: np.ndarray  # (n,) memory-mapped ids
    starts: np.ndarray  # (documents,) memory-mapped uint64 document offsets


class ShardSet:
    """A finished shard folder, read by memory map, cut into windows of `length` tokens.

    Windows never cross shards (each shard's last `tokens % length` tokens are never read) and are numbered
    through the shards in order; `window(i)` returns the ids and the offsets inside the window where a
    document starts (offset 0 excluded: every window starts a fresh stream anyway)."""

    def __init__(self, folder: str | Path, length: int) -> None:
        self.folder, self.length = Path(folder), length
        if not self.folder.is_dir():
            raise FileNotFoundError(f"shard folder {self.folder} does not exist; build it with `lm2 data tokenize`")
        manifest = read_manifest(self.folder)
        if manifest is None or manifest.get("format") != FORMAT:
            raise ValueError(f"{self.folder} is not a shard folder (no {MANIFEST} of format {FORMAT!r})")
        if not manifest.get("complete"):
            raise ValueError(f"{self.folder} is not finished: run the same `lm2 data tokenize` command again")
        self.manifest = manifest
        self.dtype = np.dtype(manifest["dtype"])
        self.fingerprint = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]
        self._shards: dict[int, Shard] = {}
        counts = [entry["tokens"] // length for entry in manifest["shards"]]
        self.first = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)  # first window of each shard

    @property
    def num_windows(self) -> int:
        return int(self.first[-1])

    def shard(self, index: int) -> Shard:
        if index not in self._shards:
            name = self.manifest["shards"][index]["name"]
            tokens = np.memmap(self.folder / f"{name}.bin", dtype=self.dtype, mode="r")
            starts = np.memmap(self.folder / f"{name}.idx", dtype=np.uint64, mode="r")
            self._shards[index] = Shard(tokens, starts)
        return self._shards[index]

    def window(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """ids `(length,)` int64 and the document starts inside the window `(k,)` int64, 0 < start < length."""
        if not 0 <= index < self.num_windows:
            raise IndexError(f"window {index} of {self.folder}: it has {self.num_windows} of {self.length} tokens")
        shard = int(np.searchsorted(self.first, index, side="right")) - 1
        a = int(index - self.first[shard]) * self.length
        data = self.shard(shard)
        ids = np.asarray(data.tokens[a : a + self.length], dtype=np.int64)
        bounds = np.array([a + 1, a + self.length], dtype=np.uint64)  # same dtype: no conversion of the index
        lo, hi = np.searchsorted(data.starts, bounds)  # the starts in (a, a + length)
        return ids, np.asarray(data.starts[lo:hi], dtype=np.int64) - a
