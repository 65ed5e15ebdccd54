"""The official bAbI v1.2 archive: download once into the cache, verify its SHA-256, unpack safely.

The archive's true SHA-256 could not be verified while writing this (no network), so `BABI_SHA256` is
None and the first download is trusted and recorded next to the archive (`<archive>.sha256`); every
later use is checked against that record. Pass `sha256=` (or `--sha256`) to pin a known value. A file
that fails the check, or is not a readable tar.gz, is deleted from the cache before the error is raised.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tarfile
import urllib.request
from pathlib import Path

logger = logging.getLogger(__name__)

BABI_URL = "https://dl.fbaipublicfiles.com/babi/tasks_1-20_v1-2.tar.gz"
BABI_SHA256: str | None = None  # unknown offline; see the module docstring
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(url: str, destination: Path) -> None:
    """Stream `url` (http(s) or file://) into `destination`."""
    with urllib.request.urlopen(url) as response, destination.open("wb") as out:  # noqa: S310 - configurable URL
        shutil.copyfileobj(response, out, _CHUNK)


def _safe_members(tar: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    members = tar.getmembers()
    for member in members:
        name = Path(member.name)
        if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
            raise ValueError(f"{archive}: refusing unsafe archive member {member.name!r}")
    return members


def _unpack(archive: Path, destination: Path) -> None:
    tmp = destination.with_name(destination.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = _safe_members(tar, archive)
            kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(tmp, members=members, **kwargs)  # noqa: S202 - members checked above
    except (tarfile.TarError, OSError, EOFError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ValueError(f"{archive} is not a readable tar.gz archive ({err})") from err
    if not any(tmp.rglob("qa1_*.txt")):
        shutil.rmtree(tmp, ignore_errors=True)
        raise ValueError(f"{archive} holds no bAbI task files (qa1_*.txt)")
    shutil.rmtree(destination, ignore_errors=True)
    tmp.replace(destination)


def download_babi(cache: str | Path | None = None, url: str = BABI_URL, sha256: str | None = BABI_SHA256) -> Path:
    """Download (if not cached), verify and unpack the bAbI archive; returns the unpacked folder, which
    `lm2.data.babi.load_babi(task, split, root=...)` accepts."""
    if cache is None:
        from lm2.data.paths import cache_dir

        cache = cache_dir() / "babi"
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    name = url.rstrip("/").rsplit("/", 1)[-1] or "babi.tar.gz"
    archive, record = cache / name, cache / (name + ".sha256")
    unpacked = cache / name.removesuffix(".tar.gz").removesuffix(".tgz")
    if not archive.is_file():
        logger.info("downloading %s", url)
        part = archive.with_name(name + ".part")
        try:
            _fetch(url, part)
        except Exception:
            part.unlink(missing_ok=True)
            raise
        part.replace(archive)
    expected = sha256 or (record.read_text().strip() if record.is_file() else None)
    actual = sha256_file(archive)
    if expected is not None and actual != expected.lower():
        archive.unlink(missing_ok=True)
        shutil.rmtree(unpacked, ignore_errors=True)
        raise ValueError(
            f"checksum mismatch for {url}: expected sha256 {expected}, got {actual}; the file was removed "
            f"from the cache ({archive})"
        )
    marker = unpacked / ".sha256"
    if not (marker.is_file() and marker.read_text().strip() == actual):
        try:
            _unpack(archive, unpacked)
        except ValueError:
            archive.unlink(missing_ok=True)
            record.unlink(missing_ok=True)
            raise
        marker.write_text(actual + "\n")
    if expected is None:
        record.write_text(actual + "\n")
        logger.warning("no known checksum for %s; recorded sha256 %s in %s (trusted on first use)", url, actual, record)
    return unpacked
