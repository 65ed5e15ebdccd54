"""Where pretraining documents come from: `CorpusSource` names a source, `document_batches` reads its
documents in a fixed order (the order decides the shards' bytes, so it never depends on timing or workers).

Sources: a folder of `.txt` files (one document per file, sorted by path), or anything `open_dataset`
(lm2.data.haystack, the one reader of `datasets` sources) opens: a Hub dataset (`streaming=True` reads
without a full download), local jsonl / json / parquet / arrow / csv files, a folder saved with
`save_to_disk`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lm2.data.haystack import SAVED_MARKERS, open_dataset


@dataclass(frozen=True)
class CorpusSource:
    """A corpus to tokenize.

    source: a Hub dataset name (`HuggingFaceTB/smollm-corpus`), local data files (a file or a glob), a folder
        written by `save_to_disk`, or a folder of `.txt` files.
    config: the Hub dataset's configuration (`cosmopedia-v2`); None for local sources.
    split: the split to read (local data files have one, `train`).
    text_field: the column holding each document's text.
    streaming: iterate without downloading or converting the whole dataset first.
    """

    source: str
    config: str | None = None
    split: str = "train"
    text_field: str = "text"
    streaming: bool = False

    def record(self) -> dict:
        """The fields as a manifest stores them (a local path made absolute, so the record names the same data
        from anywhere)."""
        path = Path(self.source).expanduser()
        source = str(path.resolve()) if path.exists() else self.source
        return dataclasses.asdict(self) | {"source": source}


def is_text_folder(path: Path) -> bool:
    """A folder of `.txt` documents (and not a `save_to_disk` copy)."""
    return path.is_dir() and not any((path / m).is_file() for m in SAVED_MARKERS) and any(path.rglob("*.txt"))


def document_batches(spec: CorpusSource, skip: int = 0, size: int = 512) -> Iterator[list[str]]:
    """The documents of `spec` after the first `skip`, in lists of up to `size`, always in the same order."""
    path = Path(spec.source).expanduser()
    if is_text_folder(path):
        files = sorted(path.rglob("*.txt"))[skip:]
        for i in range(0, len(files), size):
            yield [f.read_text(encoding="utf-8-sig", errors="replace") for f in files[i : i + size]]
        return
    dataset = open_dataset(spec.source, spec.split, spec.config, spec.streaming)
    columns = dataset.column_names
    if columns is not None and spec.text_field not in columns:
        raise ValueError(f"{spec.source}: text_field={spec.text_field!r} is not a column; it has {columns}")
    dataset = dataset.select_columns([spec.text_field])  # other columns (prompts, metadata) are never decoded
    if skip:
        dataset = dataset.skip(skip)
    for rows in dataset.iter(batch_size=size):
        yield [text or "" for text in rows[spec.text_field]]
