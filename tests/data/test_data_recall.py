"""The recall and capacity tasks: the asked key's stored value is the answer, and capacity's reported
"stored values" shortcut is what a model that knows the stored values but not their keys scores."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch

from lm2.data.recall import RESERVED, RecallTask


def test_the_answer_is_the_value_stored_with_the_asked_key():
    task = RecallTask(pairs=4, segments=3)
    ids, labels = task.batch(64, torch.Generator().manual_seed(0))
    assert bool((labels[:, :-1] == -100).all()) and torch.equal(labels[:, -1], ids[:, -1])
    for row in ids.tolist():
        stored = dict(zip(row[0:8:2], row[1:8:2], strict=True))
        assert len(stored) == 4 and all(RESERVED <= k < RESERVED + task.keys for k in stored)  # distinct keys
        assert row[-1] == stored[row[-2]]


@pytest.mark.parametrize("pairs", [2, 4])
def test_the_stored_values_shortcut_is_exact(pairs):
    """The enumeration over multisets of values agrees with the shortcut predictor run on sampled batches
    (accuracy of the most often stored value, ties split; loss of count/pairs on each stored value) within
    Monte-Carlo error (20,000 samples: standard error below 0.004)."""
    task = RecallTask(pairs=pairs, segments=2)
    ids, _ = task.batch(20_000, torch.Generator().manual_seed(pairs))
    accuracy = loss = 0.0
    for row in ids.tolist():
        counts = Counter(row[1 : 2 * pairs : 2])
        top = max(counts.values())
        accuracy += (counts[row[-1]] == top) / sum(c == top for c in counts.values())
        loss -= math.log(counts[row[-1]] / pairs)
    exact_accuracy, exact_loss = task.shortcut()
    assert exact_accuracy == pytest.approx(accuracy / len(ids), abs=0.015)
    assert exact_loss == pytest.approx(loss / len(ids), abs=0.02)
    assert task.chance < exact_accuracy < 1 and 0 < exact_loss < math.log(task.values)
    assert RecallTask(pairs=1).shortcut() == (1.0, 0.0)  # one pair: knowing the stored value is the task


def test_the_shortcut_share_counts_answers_among_the_stored_values():
    task = RecallTask(pairs=4, segments=2)
    ids, _ = task.batch(256, torch.Generator().manual_seed(0))
    assert task.shortcut_share(ids, ids[:, -1]) == 1.0  # the right answer is always a stored value
    assert task.shortcut_share(ids, torch.full((256,), RESERVED)) == 0.0  # a key is never a stored value
    first = ids[:, 1]  # the first pair's value: stored, right only when the first key is asked (or repeats)
    assert task.shortcut_share(ids, first) == 1.0 and float((first == ids[:, -1]).float().mean()) < 0.5
    assert RecallTask(pairs=1).shortcut_share(ids, ids[:, -1]) is None
