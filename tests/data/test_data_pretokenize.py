"""`tokenize_corpus`: every kind of source into shards that hold exactly the tokenizer's ids and document
starts; the same bytes whatever the workers or batches; an interrupted run continues to the same bytes."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from lm2.data import pretokenize
from lm2.data.corpus import CorpusSource
from lm2.data.pretokenize import tokenize_corpus
from lm2.data.shards import read_manifest

datasets = pytest.importorskip("datasets")


def corpus(n: int = 60) -> list[str]:
    rng = random.Random(0)
    words = ["the", "cat", "sat", "on", "a", "mat", "while", "owls", "watched", "from", "an", "old", "oak"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 40))) + "." for _ in range(n)]
    texts[7] = ""  # an empty document is read but writes nothing
    return texts


def expected(tokenizer, texts: list[str]) -> tuple[list[int], list[int]]:
    """All ids (each document's then `</s>`) and the document starts, as the shards must hold them."""
    ids, starts = [], []
    for text in texts:
        if text:
            starts.append(len(ids))
            ids += tokenizer.encode(text, add_special_tokens=False) + [tokenizer.eos_token_id]
    return ids, starts


def read_back(folder) -> tuple[list[int], list[int]]:
    manifest = read_manifest(folder)
    ids, starts = [], []
    for entry in manifest["shards"]:
        starts += (np.fromfile(folder / f"{entry['name']}.idx", dtype=np.uint64) + len(ids)).tolist()
        ids += np.fromfile(folder / f"{entry['name']}.bin", dtype=manifest["dtype"]).tolist()
    return ids, starts


def shard_bytes(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("shard-*"))}


def write_source(kind: str, texts: list[str], root) -> CorpusSource:
    rows = {"text": texts, "meta": list(range(len(texts)))}
    if kind in ("jsonl", "jsonl-streaming"):
        path = root / "c.jsonl"
        path.write_text("".join(json.dumps({"text": t, "meta": i}) + "\n" for i, t in enumerate(texts)))
        return CorpusSource(str(path), streaming=kind == "jsonl-streaming")
    if kind == "parquet":
        datasets.Dataset.from_dict(rows).to_parquet(str(root / "c.parquet"))
        return CorpusSource(str(root / "c.parquet"))
    if kind == "saved":
        datasets.Dataset.from_dict(rows).save_to_disk(str(root / "saved"))
        return CorpusSource(str(root / "saved"))
    if kind == "saved-dict":
        datasets.DatasetDict({"validation": datasets.Dataset.from_dict(rows)}).save_to_disk(str(root / "dict"))
        return CorpusSource(str(root / "dict"), split="validation")
    folder = root / "txt"  # one document per file, read in sorted path order
    folder.mkdir()
    for i, text in enumerate(texts):
        (folder / f"doc{i:03d}.txt").write_text(text)
    return CorpusSource(str(folder))


@pytest.mark.parametrize("kind", ["jsonl", "jsonl-streaming", "parquet", "saved", "saved-dict", "txt"])
def test_every_source_kind_round_trips_tokens_and_document_starts(tmp_path, tokenizer, kind):
    texts = corpus()
    spec = write_source(kind, texts, tmp_path)
    manifest = tokenize_corpus(spec, tmp_path / "out", tokenizer, shard_tokens=300, batch_documents=8)
    ids, starts = expected(tokenizer, texts)
    assert read_back(tmp_path / "out") == (ids, starts)
    assert manifest["complete"] and manifest["tokens"] == len(ids) and manifest["documents"] == len(texts) - 1
    assert sum(e["read"] for e in manifest["shards"]) == len(texts)
    assert all(e["tokens"] >= 300 for e in manifest["shards"][:-1]) and len(manifest["shards"]) > 2
    assert manifest["dtype"] == "uint16" and manifest["tokenizer"]["vocab_size"] == len(tokenizer)
    assert (tmp_path / "out" / "tokenizer" / "tokenizer.json").is_file()


def test_output_depends_on_neither_workers_nor_batch_size(tmp_path, tokenizer):
    spec = write_source("jsonl", corpus(), tmp_path)
    tokenize_corpus(spec, tmp_path / "a", tokenizer, shard_tokens=250, batch_documents=8)
    tokenize_corpus(spec, tmp_path / "b", tokenizer, shard_tokens=250, batch_documents=8)
    tokenize_corpus(spec, tmp_path / "c", tokenizer, workers=2, shard_tokens=250, batch_documents=3)
    a = shard_bytes(tmp_path / "a")
    assert len(a) > 4 and a == shard_bytes(tmp_path / "b") == shard_bytes(tmp_path / "c")
    assert read_manifest(tmp_path / "a") == read_manifest(tmp_path / "c")


def test_a_run_killed_mid_shard_continues_to_the_same_bytes(tmp_path, tokenizer, monkeypatch):
    spec = write_source("parquet", corpus(), tmp_path)
    tokenize_corpus(spec, tmp_path / "whole", tokenizer, shard_tokens=250, batch_documents=4)
    real = pretokenize.document_batches

    def dies_after_six_batches(*args, **kwargs):
        for i, batch in enumerate(real(*args, **kwargs)):
            if i == 6:
                raise KeyboardInterrupt  # the kill, in the middle of a shard
            yield batch

    monkeypatch.setattr(pretokenize, "document_batches", dies_after_six_batches)
    with pytest.raises(KeyboardInterrupt):
        tokenize_corpus(spec, tmp_path / "cut", tokenizer, shard_tokens=250, batch_documents=4)
    cut = read_manifest(tmp_path / "cut")
    assert not cut["complete"] and 0 < len(cut["shards"]) < len(read_manifest(tmp_path / "whole")["shards"])
    (tmp_path / "cut" / f".shard-{len(cut['shards']):05d}.bin.tmp").write_bytes(b"half a shard")  # a SIGKILL's
    skipped = []
    monkeypatch.setattr(pretokenize, "document_batches", lambda *a: skipped.append(a[1]) or real(*a))
    tokenize_corpus(spec, tmp_path / "cut", tokenizer, shard_tokens=250, batch_documents=4)
    assert skipped == [sum(e["read"] for e in cut["shards"])]  # continued after the last finished shard
    assert shard_bytes(tmp_path / "cut") == shard_bytes(tmp_path / "whole")
    assert read_manifest(tmp_path / "cut") == read_manifest(tmp_path / "whole")
    assert not list((tmp_path / "cut").glob(".*tmp"))


def test_other_settings_in_the_same_folder_are_refused(tmp_path, tokenizer):
    spec = write_source("jsonl", corpus(), tmp_path)
    tokenize_corpus(spec, tmp_path / "out", tokenizer, shard_tokens=250)
    with pytest.raises(ValueError, match="shard_tokens: 250 then, 500 now"):
        tokenize_corpus(spec, tmp_path / "out", tokenizer, shard_tokens=500)


def test_max_tokens_stops_at_the_document_that_reaches_it(tmp_path, tokenizer):
    texts = corpus()
    spec = write_source("jsonl", texts, tmp_path)
    manifest = tokenize_corpus(spec, tmp_path / "out", tokenizer, shard_tokens=10_000, max_tokens=200)
    ids, starts = expected(tokenizer, texts)
    count = next(i for i, s in enumerate([*starts[1:], len(ids)]) if s >= 200) + 1  # documents up to the cap
    assert manifest["complete"] and manifest["tokens"] >= 200 and manifest["documents"] == count
    assert read_back(tmp_path / "out")[0] == ids[: manifest["tokens"]]


def test_a_missing_text_column_is_named(tmp_path, tokenizer):
    spec = write_source("jsonl", corpus(), tmp_path)
    with pytest.raises(ValueError, match="text_field='body' is not a column"):
        tokenize_corpus(CorpusSource(spec.source, text_field="body"), tmp_path / "out", tokenizer)
