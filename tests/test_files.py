"""Atomic writes: an interrupted write leaves the previous file or folder, never a half-written one."""

from __future__ import annotations

import os

import pytest

from lm2 import files
from lm2.files import atomic_folder, differences, write_atomic


def test_write_atomic_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    write_atomic(path, "old\n")
    write_atomic(path, "new\n")
    assert path.read_text() == "new\n"

    def killed(*args):
        raise KeyboardInterrupt  # the process dies between writing the temporary file and the rename

    monkeypatch.setattr(files.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, "half")
    assert path.read_text() == "new\n"  # the complete previous version; the leftover has a hidden name
    assert all(p.name.startswith(".") for p in tmp_path.iterdir() if p != path)


def test_atomic_folder_replaces_the_whole_folder_or_leaves_it(tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    (out / "tokenizer.json").write_text("old tokenizer")
    with pytest.raises(RuntimeError), atomic_folder(out) as tmp:
        (tmp / "config.json").write_text("{}")
        raise RuntimeError("the save failed")
    assert os.listdir(out) == ["tokenizer.json"] and os.listdir(tmp_path) == ["model"]
    with atomic_folder(out) as tmp:
        (tmp / "config.json").write_text("{}")
    assert os.listdir(out) == ["config.json"]  # nothing of the old folder survives
    assert os.listdir(tmp_path) == ["model"]


def test_differences_name_the_nested_keys():
    old = {"a": 1, "b": {"c": [1, 2], "d": "x"}}
    new = {"a": 1, "b": {"c": [1, 3]}, "e": None}
    assert differences(old, new) == [("b.c", [1, 2], [1, 3]), ("b.d", "x", None)]


def test_save_atomic_keeps_the_suffix_and_leaves_the_old_file_on_failure(tmp_path):
    from lm2.files import save_atomic

    target = tmp_path / "plot.png"
    target.write_text("old")
    seen = []

    def failing(tmp):
        seen.append(tmp.suffix)
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError, match="killed mid-write"):
        save_atomic(target, failing)
    assert seen == [".png"]  # writers that pick the format from the suffix still can
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["plot.png"]
    assert save_atomic(target, lambda tmp: tmp.write_text("new")) == target and target.read_text() == "new"
