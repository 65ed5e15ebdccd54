"""The mixture schedule: a pure function of the sample number that honours the weights in every block and
reads every window of a source exactly once per epoch; mixture files are checked."""

from __future__ import annotations

from collections import Counter

import pytest

from lm2.data.mixture import MixtureSchedule, block_quotas, load_mixture, permute


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 1000, 4099])
def test_permute_is_a_bijection_that_depends_on_the_key(n):
    image = [permute(i, n, key=12345) for i in range(n)]
    assert sorted(image) == list(range(n))
    if n > 8:
        assert image != list(range(n)) and image != [permute(i, n, key=6789) for i in range(n)]


def test_quotas_follow_the_weights_by_largest_remainder():
    assert block_quotas([28, 220], 1024) == [116, 908]  # 115.6 and 908.4
    assert sum(block_quotas([1, 1, 1], 1024)) == 1024
    with pytest.raises(ValueError, match="at least 1/1024"):
        block_quotas([1, 10_000], 1024)


def test_every_window_once_per_epoch_weights_per_block_and_a_pure_function():
    schedule = MixtureSchedule([1.0, 3.0], sizes=[50, 70], seed=3, block=16)
    samples = [schedule(g) for g in range(16 * 40)]
    for block in range(40):
        counts = Counter(source for source, _ in samples[16 * block : 16 * block + 16])
        assert counts == {0: 4, 1: 12}
    first = [w for s, w in samples if s == 0]  # 160 samples of source 0: 3 whole epochs of 50 and a bit
    for epoch in range(3):
        assert sorted(first[50 * epoch : 50 * epoch + 50]) == list(range(50))
    assert first[:50] != first[50:100]  # a new order each epoch
    again = MixtureSchedule([1.0, 3.0], sizes=[50, 70], seed=3, block=16)
    assert [again(g) for g in reversed(range(16 * 40))] == samples[::-1]  # any order of asking, same answers
    other_seed = MixtureSchedule([1.0, 3.0], sizes=[50, 70], seed=4, block=16)
    assert [other_seed(g) for g in range(64)] != samples[:64]


def test_mixture_files_and_single_folders(tmp_path):
    (tmp_path / "one").mkdir()
    assert [(s.shards, s.weight) for s in load_mixture(tmp_path / "one")] == [(str(tmp_path / "one"), 1.0)]
    good = tmp_path / "mix.yaml"
    good.write_text(
        "sources:\n"
        "  - {name: a, shards: data/a, weight: 28, tokenize: {source: org/corpus, config: a, streaming: true}}\n"
        "  - {name: b, shards: data/b, weight: 220}\n"
    )
    a, b = load_mixture(good)
    assert (a.name, a.weight, a.corpus.source, a.corpus.config) == ("a", 28.0, "org/corpus", "a")
    assert a.corpus.streaming and a.corpus.split == "train"
    assert b.corpus is None and b.shards == "data/b"
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  - {shards: x, weight: 0}\n")
    with pytest.raises(ValueError, match="weight=0.0"):
        load_mixture(bad)
    bad.write_text("sources:\n  - {path: x}\n")
    with pytest.raises(ValueError, match="allowed: name, shards"):
        load_mixture(bad)
    with pytest.raises(FileNotFoundError):
        load_mixture(tmp_path / "missing.yaml")
