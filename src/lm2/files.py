"""Files and folders that outlive a process, written so that a kill never leaves a half-written one that
looks complete: a file is written to a temporary name beside it and renamed over the old one
(`os.replace`, atomic on one file system); a folder is filled under a temporary name and renamed into place.
And `differences`, the one comparison of two saved settings that the commands use to refuse mixing runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path


def write_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder, fsync and a rename."""
    save_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8", newline=""))


def save_atomic(path: str | Path, save: Callable[[Path], object]) -> Path:
    """`save(tmp)` writes the file (`torch.save`, `savefig`, ...) at a temporary name beside `path` with the
    same suffix (so writers that read the format from it still do); it is then fsynced and renamed over
    `path`. A kill leaves `path` as it was, or whole."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        save(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside `path` to fill; on success it replaces `path` (whatever `path` held
    is removed), on an error or a kill `path` is untouched and the temporary folder is removed or left
    under a hidden name (`.<name>.tmp<pid>`)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        for file in tmp.rglob("*"):
            if file.is_file():
                with open(file, "rb") as handle:
                    os.fsync(handle.fileno())
        if path.exists():
            old = path.with_name(f".{path.name}.old{os.getpid()}")
            path.rename(old)
            tmp.rename(path)
            shutil.rmtree(old)
        else:
            tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def differences(old: object, new: object, prefix: str = "") -> list[tuple[str, object, object]]:
    """(dotted key, old value, new value) for every leaf where two nested mappings differ."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        found = []
        for key in sorted(set(old) | set(new)):
            found += differences(old.get(key), new.get(key), f"{prefix}{'.' if prefix else ''}{key}")
        return found
    return [] if old == new else [(prefix, old, new)]
