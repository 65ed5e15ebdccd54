"""`lm2 data tokenize` end to end, in-process and offline: a file or a mixture into shards that `lm2 train`
reads; the same command continues or confirms; bad input is one line and exit code 2."""

from __future__ import annotations

import json
import logging

import pytest

from lm2.cli.main import main
from lm2.data.shards import ShardSet, read_manifest


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "c.jsonl"
    lines = [json.dumps({"body": f"Document {i} says that the owl sat on the oak. " * (1 + i % 5)}) for i in range(40)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_file_becomes_shards_and_the_same_command_confirms(corpus, tmp_path, caplog):
    args = ["data", "tokenize", str(corpus), "--out", str(tmp_path / "s"), "--text-field", "body",
            "--workers", "0", "--shard-tokens", "200"]  # fmt: skip
    with caplog.at_level(logging.INFO):
        assert main(args) == 0
    manifest = read_manifest(tmp_path / "s")
    assert manifest["complete"] and len(manifest["shards"]) > 2 and manifest["documents"] == 40
    assert ShardSet(tmp_path / "s", 32).num_windows > 0
    assert "tokens/s" in caplog.text
    assert main(args) == 0  # complete: nothing to do
    assert read_manifest(tmp_path / "s") == manifest


def test_other_settings_or_missing_options_are_one_line_and_exit_2(corpus, tmp_path, caplog):
    out = str(tmp_path / "s")
    assert main(["data", "tokenize", str(corpus), "--out", out, "--text-field", "body", "--workers", "0"]) == 0
    caplog.clear()
    assert main(["data", "tokenize", str(corpus), "--out", out, "--text-field", "body", "--shard-tokens", "7"]) == 2
    assert "shard_tokens: 100000000 then, 7 now" in caplog.text and "Traceback" not in caplog.text
    assert main(["data", "tokenize", str(corpus)]) == 2
    assert "SOURCE needs --out" in caplog.text
    assert main(["data", "tokenize", str(corpus), "--out", str(tmp_path / "t"), "--workers", "0"]) == 2
    assert "text_field='text' is not a column" in caplog.text


def test_a_mixture_file_tokenizes_every_source_it_names(corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mix.yaml").write_text(
        "sources:\n"
        f"  - {{name: a, shards: sa, weight: 1, tokenize: {{source: {corpus}, text_field: body}}}}\n"
        f"  - {{name: b, shards: sb, weight: 3, tokenize: {{source: {corpus}, text_field: body}}}}\n"
        "  - {name: c, shards: sc, weight: 1}\n"  # built elsewhere: not tokenized here
    )
    assert main(["data", "tokenize", "--mixture", "mix.yaml", "--workers", "0"]) == 0
    assert read_manifest(tmp_path / "sa")["complete"] and read_manifest(tmp_path / "sb")["complete"]
    assert not (tmp_path / "sc").exists()
