"""Fixtures of the data tests: one default tokenizer per session (trained offline, not cached on disk)
and the shared real-data folder, which tests needing it skip without."""

from __future__ import annotations

from pathlib import Path

import pytest

from lm2.data import data_dir, default_tokenizer


@pytest.fixture(scope="session")
def tokenizer():
    return default_tokenizer(cache=False)


@pytest.fixture(scope="session")
def real_babi() -> Path:
    base = data_dir()
    if base is None or not (base / "babi" / "en-10k").is_dir():
        pytest.skip("real bAbI files not found (set LM2_DATA_DIR to the shared data folder)")
    return base / "babi"


@pytest.fixture(scope="session")
def real_books() -> Path:
    base = data_dir()
    if base is None or not (base / "haystack" / "dev").is_dir():
        pytest.skip("Gutenberg books not found (set LM2_DATA_DIR to the shared data folder)")
    return base / "haystack" / "dev"
