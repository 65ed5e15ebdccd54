"""Where data lives: the shared data folder (real bAbI files, books) and the cache folder.

Both are resolved from the environment at call time, never stored in module state:
- `LM2_DATA_DIR` points at the shared data folder; without it, `../shared/data` next to the repository
  root is used when it exists (the layout of this project's workspace).
- `LM2_CACHE_DIR` points at the cache (downloads, tokenizers); without it, `~/.cache/lm2`.
"""

from __future__ import annotations

import os
from pathlib import Path

# src/lm2/data/paths.py -> the repository root is three levels above the package folder.
_REPO_ROOT = Path(__file__).resolve().parents[3]


def data_dir() -> Path | None:
    """The shared data folder, or None when it cannot be found."""
    env = os.environ.get("LM2_DATA_DIR")
    if env:
        path = Path(env).expanduser()
        return path if path.is_dir() else None
    default = _REPO_ROOT.parent / "shared" / "data"
    return default if default.is_dir() else None


def cache_dir() -> Path:
    """The cache folder (created on first use by the functions that write to it)."""
    env = os.environ.get("LM2_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "lm2"
