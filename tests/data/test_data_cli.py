"""`lm2 data` end to end, in-process and offline."""

from __future__ import annotations

import io
import json
import logging
import tarfile

import pytest

from lm2.cli.main import main
from lm2.data import load_babilong, load_tokenizer, read_babi_file, task_file_name

SUBCOMMANDS = ("babilong", "tokenizer", "tokenize", "babi-download", "babi-generate", "babi-stats", "list")


@pytest.fixture
def saved_tokenizer(tokenizer, tmp_path):
    tokenizer.save_pretrained(str(tmp_path / "tok"))
    return tmp_path / "tok"


@pytest.mark.parametrize("command", ("",) + SUBCOMMANDS)
def test_help_on_every_subcommand(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["data", command, "--help"] if command else ["data", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: lm2 data") and "--help" in text
    if not command:
        assert all(name in text for name in SUBCOMMANDS)


def test_babilong_offline_is_byte_reproducible(tmp_path, saved_tokenizer):
    args = ["data", "babilong", "--tasks", "qa1,qa2", "--lengths", "0k,1k", "--samples", "4", "--seed", "1",
            "--generate", "--tokenizer", str(saved_tokenizer)]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    for task in ("qa1", "qa2"):
        for length in ("0k", "1k"):
            a = (tmp_path / "a" / task / f"{length}.json").read_bytes()
            assert a == (tmp_path / "b" / task / f"{length}.json").read_bytes()
            assert len(load_babilong(tmp_path / "a", task, length)) == 4
    manifest = json.loads((tmp_path / "a" / "lm2_manifest.json").read_text())
    assert manifest["lengths"] == ["0k", "1k"] and manifest["haystack"] == "prose:seed=1"


def test_bad_input_is_reported_not_raised(tmp_path, saved_tokenizer, caplog):
    base = ["data", "babilong", "--out", str(tmp_path), "--generate", "--tokenizer", str(saved_tokenizer)]
    with caplog.at_level(logging.ERROR):
        assert main([*base, "--tasks", "qa42"]) == 2
        assert main([*base, "--lengths", "4kb"]) == 2
        assert main([*base, "--samples", "0"]) == 2
    messages = "\n".join(caplog.messages)
    assert "allowed: qa1, qa2" in messages and "allowed: 0k, 1k" in messages
    assert "--samples=0 must be at least 1" in messages


def test_tokenizer_command(tmp_path):
    assert main(["data", "tokenizer", "--out", str(tmp_path / "tok"), "--vocab-size", "600", "--generate"]) == 0
    tokenizer = load_tokenizer(tmp_path / "tok")
    assert len(tokenizer) <= 600 and tokenizer.answer_token_id == 3


def test_babi_generate_and_list(tmp_path, capsys, saved_tokenizer):
    assert main(["data", "babi-generate", "--out", str(tmp_path / "babi"), "--tasks", "qa6", "--stories", "5"]) == 0
    assert len(read_babi_file(tmp_path / "babi" / task_file_name("qa6", "test"))) == 25
    out = tmp_path / "set"
    args = ["--babi", str(tmp_path / "babi"), "--tokenizer", str(saved_tokenizer), "--samples", "3"]
    assert main(["data", "babilong", "--tasks", "qa6", "--lengths", "0k,2k", "--out", str(out), *args]) == 0
    capsys.readouterr()
    assert main(["data", "list", str(out)]) == 0
    assert capsys.readouterr().out.strip() == "qa6  0k: 3, 2k: 3"


def test_babi_download_command(tmp_path):
    data = b"1 Anna went to the attic.\n2 Where is Anna?\tattic\t1\n"
    info = tarfile.TarInfo("tasks_1-20_v1-2/en-10k/qa1_single-supporting-fact_test.txt")
    info.size = len(data)
    with tarfile.open(tmp_path / "babi.tar.gz", "w:gz") as tar:
        tar.addfile(info, io.BytesIO(data))
    url = (tmp_path / "babi.tar.gz").as_uri()
    assert main(["data", "babi-download", "--url", url, "--cache", str(tmp_path / "cache")]) == 0
    assert main(["data", "babi-download", "--url", url, "--cache", str(tmp_path / "c2"), "--sha256", "0" * 64]) == 2


def test_babi_stats_command(real_babi, capsys):
    assert main(["data", "babi-stats", "--babi", str(real_babi), "--tasks", "qa1,qa4", "--samples", "500"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("task") and all(line.endswith("yes") for line in lines[1:])
