"""Where the data and the cache are looked for."""

from __future__ import annotations

from pathlib import Path

from lm2.data import cache_dir, data_dir


def test_environment_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("LM2_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LM2_CACHE_DIR", str(tmp_path / "cache"))
    assert data_dir() == tmp_path
    assert cache_dir() == tmp_path / "cache"
    monkeypatch.setenv("LM2_DATA_DIR", str(tmp_path / "missing"))
    assert data_dir() is None


def test_defaults(monkeypatch):
    monkeypatch.delenv("LM2_DATA_DIR", raising=False)
    monkeypatch.delenv("LM2_CACHE_DIR", raising=False)
    assert cache_dir() == Path.home() / ".cache" / "lm2"
    found = data_dir()
    assert found is None or (found.name == "data" and found.parent.name == "shared")
