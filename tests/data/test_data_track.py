"""The track task: assignments in every segment, the answer is the asked key's latest value, and the
reported shortcut is what "the last value seen" scores."""

from __future__ import annotations

import pytest
import torch

from lm2.data.recall import RESERVED
from lm2.data.track import TrackTask


def scan(task: TrackTask, row: list[int]) -> tuple[dict[int, int], int, int]:
    """Read one sample token by token: the latest value of every key, the last value, assignments seen."""
    key0, value0, noise0 = RESERVED, RESERVED + task.keys, RESERVED + task.keys + task.values
    latest, last, count = {}, None, 0
    for i in range(len(row) - 3):  # the last two tokens are the question
        if key0 <= row[i] < value0 and value0 <= row[i + 1] < noise0:
            latest[row[i]], last, count = row[i + 1], row[i + 1], count + 1
    return latest, last, count


@pytest.mark.parametrize("segments", [1, 3, 9])
def test_the_answer_is_the_asked_keys_latest_value(segments):
    task = TrackTask(segments=segments, per_segment=2)
    ids, last = task.sample(64, torch.Generator().manual_seed(segments))
    ids_, labels = task.batch(64, torch.Generator().manual_seed(segments))
    assert torch.equal(ids, ids_) and torch.equal(labels[:, -1], ids[:, -1])  # integer ids: exact
    assert bool((labels[:, :-1] == -100).all())
    for row, shortcut in zip(ids.tolist(), last.tolist(), strict=True):
        latest, seen_last, count = scan(task, row)
        assert count == segments * task.per_segment  # noise never looks like an assignment
        assert row[-2] in latest and row[-1] == latest[row[-2]]
        assert shortcut == seen_last


def test_shortcut_accuracy_counts_the_last_value_seen():
    task = TrackTask(segments=6)
    ids, last = task.sample(500, torch.Generator().manual_seed(123))
    assert task.shortcut_accuracy(500, seed=123) == pytest.approx(float((last == ids[:, -1]).float().mean()))
    assert TrackTask(segments=1).shortcut_accuracy() == 1.0  # one assignment: the last value is the answer
    assert task.shortcut_share(ids, last) == 1.0  # the share of answers that are the last value, read from ids
    assert task.shortcut_share(ids, ids[:, -1]) == pytest.approx(task.shortcut_accuracy(500, seed=123))
    assert task.chance < TrackTask(segments=64).shortcut_accuracy() < 0.5  # about 1/keys + collisions


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"per_segment": 8}, r"per_segment=8 assignments .* segment_length=16; allowed: 1\.\.7"),
        ({"segments": 0}, r"segments=0 must be >= 1"),
        ({"vocab_size": 16}, r"vocab_size=16 leaves no noise tokens"),
    ],
)
def test_bad_track_settings_name_the_field(fields, message):
    with pytest.raises(ValueError, match=message):
        TrackTask(**fields)
