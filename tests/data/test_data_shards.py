"""Shard files: what is written is what the memory map reads back (tokens and document starts), windows."""

from __future__ import annotations

import numpy as np
import pytest

from lm2.data.shards import FORMAT, ShardSet, ShardWriter, read_manifest, token_dtype, write_manifest


def write_shards(folder, documents: list[list[list[int]]], dtype=np.uint16) -> dict:
    """`documents[s]`: the documents of shard s; writes them and a complete manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for index, docs in enumerate(documents):
        writer = ShardWriter(folder, index, np.dtype(dtype))
        for doc in docs:
            writer.read += 1
            writer.add(np.asarray(doc))
        entries.append(writer.close())
    manifest = {"format": FORMAT, "dtype": np.dtype(dtype).name, "shards": entries, "complete": True,
                "tokenizer": {"fingerprint": "x"}}  # fmt: skip
    write_manifest(folder, manifest)
    return manifest


def test_the_vocabulary_decides_the_token_width():
    assert token_dtype(2048) == np.uint16 and token_dtype(65536) == np.uint16
    assert token_dtype(65537) == np.uint32 and token_dtype(128_256) == np.uint32


@pytest.mark.parametrize("dtype", [np.uint16, np.uint32])
def test_round_trip_of_tokens_and_document_starts(tmp_path, dtype):
    big = 70_000 if dtype == np.uint32 else 60_000
    shards = [[[5, 6, 7, 2], [8, 2], [big, 9, 9, 2]], [[1, 2, 3, 4, 5, 2]]]
    manifest = write_shards(tmp_path, shards, dtype)
    assert [e["tokens"] for e in manifest["shards"]] == [10, 6]
    assert [e["documents"] for e in manifest["shards"]] == [3, 1]
    for index, docs in enumerate(shards):
        name = manifest["shards"][index]["name"]
        tokens = np.fromfile(tmp_path / f"{name}.bin", dtype=dtype)
        starts = np.fromfile(tmp_path / f"{name}.idx", dtype=np.uint64)
        assert tokens.tolist() == [t for doc in docs for t in doc]
        assert starts.tolist() == np.cumsum([0] + [len(d) for d in docs[:-1]]).tolist()
    assert not list(tmp_path.glob(".*tmp"))  # nothing left under a temporary name


def test_windows_never_cross_shards_and_report_the_starts_inside(tmp_path):
    write_shards(tmp_path, [[[10, 11, 12, 2], [13, 14, 2], [15, 2]], [[20, 21, 22, 23, 24, 2]]])
    windows = ShardSet(tmp_path, length=4)
    assert windows.num_windows == 2 + 1  # 9 tokens → 2 windows (the last token unread), 6 tokens → 1
    ids, starts = windows.window(0)
    assert ids.tolist() == [10, 11, 12, 2] and starts.tolist() == []  # a start at offset 0 is not listed
    ids, starts = windows.window(1)
    assert ids.tolist() == [13, 14, 2, 15] and starts.tolist() == [3]
    ids, starts = windows.window(2)
    assert ids.tolist() == [20, 21, 22, 23] and starts.tolist() == []
    with pytest.raises(IndexError, match="window 3"):
        windows.window(3)


def test_an_unfinished_or_foreign_folder_is_refused(tmp_path):
    manifest = write_shards(tmp_path / "a", [[[1, 2]]])
    write_manifest(tmp_path / "a", manifest | {"complete": False})
    with pytest.raises(ValueError, match="not finished"):
        ShardSet(tmp_path / "a", 2)
    (tmp_path / "b").mkdir()
    with pytest.raises(ValueError, match="not a shard folder"):
        ShardSet(tmp_path / "b", 2)
    assert read_manifest(tmp_path / "b") is None
