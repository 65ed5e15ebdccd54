"""Statistics of bAbI samples and the agreement check."""

from __future__ import annotations

import pytest

from lm2.data import BabiSample, babi_stats, compare_stats
from lm2.data.babi.stats import answer_tv


def _sample(facts, answer, supporting, task="qa1"):
    return BabiSample(tuple(facts), "Where is Mary?", answer, tuple(supporting), task)


def test_statistics_of_hand_made_samples():
    samples = [
        _sample(["Mary went to the office.", "John went to the garden."], "office", [0]),
        _sample(
            ["Mary went to the office.", "John went to the garden.", "Mary went to the garden."],
            "garden",
            [2],
        ),
    ]
    stats = babi_stats(samples)
    assert stats.facts_mean == 2.5 and stats.supports_mean == 1.0  # small-integer means: exact Python floats
    assert stats.distance_mean == 1.5  # 2 facts back, then 1 fact back
    assert stats.answers == {"office": 0.5, "garden": 0.5}
    assert {"Mary", "John", "Where", "garden"} <= stats.vocabulary and "." not in stats.vocabulary
    assert compare_stats(stats, stats) == []


def test_list_answers_split_into_labels_but_paths_do_not():
    lists = babi_stats([_sample(["x"], "apple,milk", [0], task="qa8")])
    paths = babi_stats([_sample(["x"], "n,w", [0], task="qa19")])
    assert lists.labels == {"apple", "milk"} and paths.labels == {"n,w"}


def test_disagreements_are_reported():
    a = babi_stats([_sample(["Mary went to the office."], "office", [0])])
    b = babi_stats([_sample(["Mary went to the garden.", "x", "y"], "garden", [0])])
    assert answer_tv(a, b) == 1.0 and answer_tv(a, a) == 0.0  # 0.5 * (1 + 1) and 0: exact Python floats
    problems = " | ".join(compare_stats(a, b))
    for part in ("vocabulary", "labels", "answer distribution", "facts_mean", "distance_mean"):
        assert part in problems
    with pytest.raises(ValueError, match="at least one sample"):
        babi_stats([])
