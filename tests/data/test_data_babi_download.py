"""The bAbI archive source, tested offline against archives built here from small hand-written files."""

from __future__ import annotations

import io
import tarfile

import pytest

from lm2.data import download_babi, load_babi
from lm2.data.babi.download import sha256_file

FAKE_QA1 = "1 Anna went to the attic.\n2 Where is Anna?\tattic\t1\n"
FAKE_QA2 = "1 Bob took the lamp there.\n2 Bob went to the cellar.\n3 Where is the lamp?\tcellar\t1 2\n"


def _archive(path, members: dict[str, str]):
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def archive(tmp_path):
    """A small archive in the official layout, served from a folder of its own."""
    (tmp_path / "served").mkdir()
    root = "tasks_1-20_v1-2/en-10k/"
    members = {
        root + "qa1_single-supporting-fact_test.txt": FAKE_QA1,
        root + "qa2_two-supporting-facts_test.txt": FAKE_QA2,
    }
    return _archive(tmp_path / "served" / "tasks_1-20_v1-2.tar.gz", members)


def test_download_verifies_unpacks_and_caches(archive, tmp_path):
    cache = tmp_path / "cache"
    digest = sha256_file(archive)
    folder = download_babi(cache=cache, url=archive.as_uri(), sha256=digest)
    samples = load_babi("qa2", "test", folder)
    assert samples[0].answer == "cellar" and samples[0].supporting == (0, 1)
    # cached: works with the source gone, and without being told the checksum again
    archive.unlink()
    assert download_babi(cache=cache, url=archive.as_uri()) == folder


def test_first_download_without_checksum_is_recorded_then_enforced(archive, tmp_path):
    cache = tmp_path / "cache"
    download_babi(cache=cache, url=archive.as_uri(), sha256=None)
    record = cache / (archive.name + ".sha256")
    assert record.read_text().strip() == sha256_file(archive)
    cached = cache / archive.name
    cached.write_bytes(cached.read_bytes() + b"tampered")
    with pytest.raises(ValueError, match="checksum mismatch"):
        download_babi(cache=cache, url=archive.as_uri())
    assert not cached.exists()


def test_wrong_checksum_is_rejected_and_not_cached(archive, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(
        ValueError, match=r"checksum mismatch .* expected sha256 0+, got [0-9a-f]{64}; the file was removed"
    ):
        download_babi(cache=cache, url=archive.as_uri(), sha256="0" * 64)
    assert list(cache.iterdir()) == []


def test_corrupted_archive_is_rejected_and_not_cached(tmp_path):
    bad = tmp_path / "tasks_1-20_v1-2.tar.gz"
    bad.write_bytes(b"\x1f\x8b this is not a gzip stream at all" * 10)
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="is not a readable tar.gz archive"):
        download_babi(cache=cache, url=bad.as_uri(), sha256=sha256_file(bad))
    assert not (cache / bad.name).exists() and not (cache / "tasks_1-20_v1-2").exists()


def test_archive_without_babi_files_or_with_unsafe_paths_is_rejected(tmp_path):
    empty = _archive(tmp_path / "empty.tar.gz", {"readme.txt": "nothing here"})
    with pytest.raises(ValueError, match="holds no bAbI task files"):
        download_babi(cache=tmp_path / "c1", url=empty.as_uri())
    evil = _archive(tmp_path / "evil.tar.gz", {"../escape/qa1_x_test.txt": FAKE_QA1})
    with pytest.raises(ValueError, match="unsafe archive member"):
        download_babi(cache=tmp_path / "c2", url=evil.as_uri())
    assert not (tmp_path / "escape").exists()
    assert not (tmp_path / "c1" / "empty.tar.gz").exists() and not (tmp_path / "c2" / "evil.tar.gz").exists()


def test_unreachable_url_leaves_no_partial_file(tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(OSError):
        download_babi(cache=cache, url=(tmp_path / "missing.tar.gz").as_uri())
    assert list(cache.iterdir()) == []
