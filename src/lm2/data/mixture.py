"""A pretraining mixture: shard sources with weights, and the schedule that gives every global sample
number its window — a pure function of (seed, sample number), so a resumed or re-split run reads exactly
the windows an uninterrupted single-process run would.

Mixing: the samples are cut into blocks of `BLOCK`; in every block each source gets a fixed quota (its weight
times `BLOCK`, rounded by largest remainders) at positions shuffled by the block's seed. The k-th sample a
source receives (counted over all blocks) reads that source's window `permute(k mod n, n, epoch key)`: a
pseudo-random permutation of its n training windows, a new one each epoch, so within an epoch no window
repeats and every window is read.

A mixture file (YAML) lists the sources; relative paths are read from the working directory, like the run
files' other paths:

    sources:
      - name: cosmopedia-v2
        shards: data/smollm/cosmopedia-v2      # the shard folder `lm2 data tokenize` writes
        weight: 28                            # relative weights, normalised over the sources
        tokenize: {source: HuggingFaceTB/smollm-corpus, config: cosmopedia-v2, streaming: true}
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

from lm2.data.corpus import CorpusSource

BLOCK = 1024  # samples per mixing block: weights are honoured exactly in every block, to 1/BLOCK
MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class MixtureSource:
    """One source of a mixture: its shard folder, relative weight, name, and (optionally) how `lm2 data
    tokenize --mixture` builds the folder."""

    shards: str
    weight: float = 1.0
    name: str = ""
    corpus: CorpusSource | None = None


def load_mixture(spec: str | Path) -> list[MixtureSource]:
    """`spec`: a shard folder (one source of weight 1) or a mixture file (YAML, see the module docstring)."""
    path = Path(spec)
    if path.is_dir():
        return [MixtureSource(str(path), 1.0, path.name)]
    if not path.is_file():
        raise FileNotFoundError(f"{spec} is neither a shard folder nor a mixture file")
    import yaml

    entries = (yaml.safe_load(path.read_text()) or {}).get("sources")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{spec}: a mixture file needs `sources:`, a list of {{shards, weight}} entries")
    sources = []
    for i, entry in enumerate(entries):
        unknown = sorted(set(entry) - {"name", "shards", "weight", "tokenize"})
        if unknown or "shards" not in entry:
            raise ValueError(f"{spec}: source {i} has keys {sorted(entry)}; allowed: name, shards (required), "
                             "weight, tokenize")  # fmt: skip
        weight = float(entry.get("weight", 1.0))
        if not weight > 0:
            raise ValueError(f"{spec}: source {i} has weight={weight}; weights must be > 0")
        corpus = CorpusSource(**entry["tokenize"]) if entry.get("tokenize") else None
        sources.append(MixtureSource(str(entry["shards"]), weight, entry.get("name", f"source{i}"), corpus))
    return sources


def block_quotas(weights: list[float], block: int = BLOCK) -> list[int]:
    """Samples per block for each weight: `block * w / sum(w)` rounded down, the rest to the largest
    remainders (ties to the first). `ValueError` when a source would get none."""
    total = sum(weights)
    exact = [block * w / total for w in weights]
    quotas = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (quotas[i] - exact[i], i))
    for i in by_remainder[: block - sum(quotas)]:
        quotas[i] += 1
    if min(quotas) == 0:
        raise ValueError(f"mixture weights {weights}: every weight must be at least 1/{block} of their sum")
    return quotas


def _mix(x: int) -> int:
    """splitmix64's finaliser: a 64-bit integer hash."""
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 & MASK64
    x = (x ^ (x >> 27)) * 0x94D049BB133111EB & MASK64
    return x ^ (x >> 31)


def permute(index: int, n: int, key: int) -> int:
    """Position `index` of a pseudo-random permutation of range(n) chosen by `key`: a 4-round Feistel network
    on the smallest even power of two >= n, applied again until the value falls below n (cycle walking keeps
    it a bijection of range(n)). O(1) memory for any n."""
    if not 0 <= index < n:
        raise IndexError(f"index {index} is outside range({n})")
    half = max(1, ((n - 1).bit_length() + 1) // 2)
    mask = (1 << half) - 1
    x = index
    while True:
        left, right = x >> half, x & mask
        for r in range(4):
            left, right = right, left ^ (_mix((key + r * 0x9E3779B97F4A7C15 + right) & MASK64) & mask)
        x = (left << half) | right
        if x < n:
            return x


def _key(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest(), "little")


class MixtureSchedule:
    """Global sample number → (source, window), for sources of `sizes` training windows and `weights`."""

    def __init__(self, weights: list[float], sizes: list[int], seed: int, block: int = BLOCK) -> None:
        if len(weights) != len(sizes) or min(sizes, default=0) < 1:
            raise ValueError(f"every source needs >= 1 training window; sizes {sizes} for weights {weights}")
        self.sizes, self.seed, self.block = sizes, seed, block
        self.quotas = block_quotas(weights, block)
        self._blocks: dict[int, tuple[list[int], list[int]]] = {}

    def _layout(self, block: int) -> tuple[list[int], list[int]]:
        """The source of each position of `block` and its rank among that source's positions."""
        if block not in self._blocks:
            order = [s for s, q in enumerate(self.quotas) for _ in range(q)]
            random.Random(f"{self.seed}/mixture/{block}").shuffle(order)
            seen = [0] * len(self.quotas)
            ranks = []
            for s in order:
                ranks.append(seen[s])
                seen[s] += 1
            if len(self._blocks) >= 8:
                self._blocks.pop(next(iter(self._blocks)))
            self._blocks[block] = (order, ranks)
        return self._blocks[block]

    def __call__(self, sample: int) -> tuple[int, int]:
        block, position = divmod(sample, self.block)
        order, ranks = self._layout(block)
        source = order[position]
        epoch, index = divmod(block * self.quotas[source] + ranks[position], self.sizes[source])
        return source, permute(index, self.sizes[source], _key(self.seed, source, epoch))
