"""The suite's own scheduling: the files that conftest.py starts first exist under those names (a renamed file
would silently fall back to its place in path order and end the run alone on one worker)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import LONGEST_FILES

ROOT = Path(__file__).resolve().parents[1]


def test_the_longest_files_are_named_as_they_are_in_the_tree():
    assert len(set(LONGEST_FILES)) == len(LONGEST_FILES)
    assert [name for name in LONGEST_FILES if not (ROOT / name).is_file()] == []
