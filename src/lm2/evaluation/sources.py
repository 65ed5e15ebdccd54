"""Where the samples of an evaluation come from: a BABILong folder in the official layout, or the recipe
that builds them (the same as `lm2 data babilong`, so both give the same samples for the same options).

A source names its cells (`tasks` × `lengths`), loads one cell at a time (a 128k cell of a big set is
tens of megabytes, so nothing is loaded ahead), and `describe()`s itself: that description is what an
evaluation folder is tied to, so results of two different sources are never mixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from lm2.data import (
    build_babilong,
    data_dir,
    haystack_spec,
    latest_places,
    length_name,
    list_babilong,
    load_babilong,
    load_haystack,
    parse_length,
    parse_lengths,
    parse_tasks,
    question_pool,
)
from lm2.data.babilong import BabilongSample
from lm2.data.tokenizer import tokenizer_fingerprint

DEFAULT_TASKS = ("qa1", "qa2", "qa3", "qa4", "qa5")
DEFAULT_LENGTHS = ("0k", "1k", "2k", "4k")


class SampleSource(Protocol):
    """What `evaluate` needs from a data source."""

    tasks: list[str]
    lengths: list[str]  # length names: "0k", "4k", "1500"

    def describe(self) -> dict:
        """JSON-able identity of the samples, without the task and length lists."""

    def load(self, task: str, length: str) -> list[dict]:
        """The cell's samples as {"input", "question", "target"} records; a source that knows each story's
        statements adds them, in order, as "facts" (the `latest_fact` baseline needs them)."""


def _positive_samples(samples: int | None, allow_none: bool) -> None:
    if samples is None and allow_none:
        return
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples={samples!r} must be a positive integer{' or None (all)' if allow_none else ''}")


class FolderSource:
    """`root/qaN/<length>.json` files (ours or the official BABILong release). `tasks`/`lengths`: None
    means every task / every length found (lengths present for all chosen tasks); `samples`: the first N
    of each file (None: all)."""

    def __init__(
        self,
        root: str | Path,
        tasks: str | Sequence[str] | None = None,
        lengths: str | Sequence[str | int] | None = None,
        samples: int | None = None,
    ) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"data folder not found: {root}")
        found = list_babilong(self.root)
        if not found:
            raise FileNotFoundError(f"no qaN/<length>.json files under {root} (the official BABILong layout)")
        _positive_samples(samples, allow_none=True)
        self.samples = samples
        self.tasks = list(found) if tasks is None else parse_tasks(tasks)
        for task in self.tasks:
            if task not in found:
                raise FileNotFoundError(f"task {task} not in {root}; tasks present: {', '.join(found)}")
        if lengths is None:
            common = set.intersection(*(set(found[t]) for t in self.tasks))
            names = sorted(common, key=parse_length)
            if not names:
                raise FileNotFoundError(f"no length is present for all of {', '.join(self.tasks)} in {root}")
        else:
            names = [length_name(n) for n in parse_lengths(lengths)]
        for task in self.tasks:
            missing = [n for n in names if n not in found[task]]
            if missing:
                raise FileNotFoundError(
                    f"{root}/{task} has no {', '.join(f'{n}.json' for n in missing)}; "
                    f"lengths present for {task}: {', '.join(found[task]) or 'none'}"
                )
        self.lengths = names

    def describe(self) -> dict:
        return {"source": "folder", "path": str(self.root), "samples": self.samples}

    def load(self, task: str, length: str) -> list[dict[str, str]]:
        records = load_babilong(self.root, task, length)
        if not records:
            raise ValueError(f"{self.root / task / (length + '.json')} holds no samples")
        return records if self.samples is None else records[: self.samples]


class GeneratedSource:
    """BABILong samples built from bAbI questions of the `split` split (default: test) and a haystack,
    exactly as `lm2 data babilong` builds them with the same options and the same tokenizer (lengths
    count tokens of `tokenizer`, so pass the evaluated model's).

    babi: a folder of bAbI files, `"download"`, `"generate"` (offline generator) or None (the shared
    data folder). haystack: `"prose"` (offline generated prose), `"pg19"` (PG19 test books through
    `datasets`), `"pg19:PATH"` (a saved copy) or a folder of .txt books.

    every_person (qa1 only): each input is asked "Where is P?" for every person P its story names, P's latest
    place the target, instead of its one question; the records of one input share a "group" number, and
    `evaluate` then reports the person-blind bound (what any one answer per input can score) beside the model.
    """

    def __init__(
        self,
        tokenizer,
        tasks: str | Sequence[str] = DEFAULT_TASKS,
        lengths: str | Sequence[str | int] = DEFAULT_LENGTHS,
        samples: int = 100,
        seed: int = 0,
        babi: str | Path | None = None,
        haystack: str | Path = "prose",
        split: str = "test",
        every_person: bool = False,
    ) -> None:
        _positive_samples(samples, allow_none=False)
        if split not in ("train", "test"):
            raise ValueError(f"split={split!r}; allowed: train, test")
        self.tokenizer = tokenizer
        self.tasks = parse_tasks(tasks)
        self.lengths = [length_name(n) for n in parse_lengths(lengths)]
        self.samples, self.seed, self.split = samples, seed, split
        if every_person and self.tasks != ["qa1"]:
            tasks = ",".join(self.tasks)
            raise ValueError(f"every_person asks every person of a qa1 story; tasks={tasks}, allowed: qa1")
        self.every_person = every_person
        if babi is None and data_dir() is not None and (data_dir() / "babi").is_dir():
            babi = data_dir() / "babi"  # what `babi_samples` reads for None; recorded as a path
        if babi not in (None, "generate", "download"):
            babi = Path(babi).expanduser().resolve()
            if not babi.is_dir():
                raise FileNotFoundError(f"bAbI folder not found: {babi}")
        self.babi = babi
        self.haystack_spec = haystack_spec(haystack)
        self._haystack = None
        self._pools: dict[str, list] = {}

    def describe(self) -> dict:
        return {
            "source": "generated",
            "samples": self.samples,
            "seed": self.seed,
            "split": self.split,
            "babi": "<data dir>/babi" if self.babi is None else str(self.babi),
            "haystack": self.haystack_spec,
            "tokenizer": tokenizer_fingerprint(self.tokenizer),
        } | ({"every_person": True} if self.every_person else {})

    def load(self, task: str, length: str) -> list[dict]:
        records = [sample.to_dict() | {"facts": list(sample.facts)} for sample in self.build(task, length)]
        if not self.every_person:
            return records
        return [
            record | {"question": f"Where is {person}?", "target": place, "group": n}
            for n, record in enumerate(records)
            for person, place in latest_places(record["facts"]).items()
        ]

    def build(self, task: str, length: str) -> list[BabilongSample]:
        """The cell's samples with their metadata (facts, supporting facts, where each fact stands)."""
        if task not in self._pools:
            self._pools[task] = question_pool(task, self.split, self.babi, self.seed, self.samples)
        tokens = parse_length(length)
        haystack = self._load_haystack() if tokens > 0 else None
        return build_babilong(self._pools[task], tokens, self.tokenizer, haystack, self.samples, self.seed)

    def _load_haystack(self):
        if self._haystack is None:  # as `lm2 data babilong` loads it (prose of the same seed, PG19's test split)
            self._haystack = load_haystack(self.haystack_spec, seed=self.seed, split="test")
        return self._haystack
