"""`lm2 recall --mixed-segments`: training batches cycle through the given lengths (a one-stage curriculum of
`train_recall`), as the help says."""

from __future__ import annotations

import lm2.cli.recall as recall_cli
import lm2.training.recall as recall
from lm2.cli.main import main


def test_mixed_segments_train_on_each_given_length(tmp_path, monkeypatch):
    seen = []
    real = recall.curriculum_segments

    def recording(step, steps, stages):
        seen.append(real(step, steps, stages))
        return seen[-1]

    monkeypatch.setattr(recall, "curriculum_segments", recording)
    args = ["recall", "--quick", "--models", "lm2", "--mixed-segments", "2,4", "--stream-tokens", "0",
            "--eval-segments", "3", "--out", str(tmp_path / "recall")]  # fmt: skip
    assert recall_cli.train_recall is recall.train_recall and main(args) == 0
    assert len(seen) == 60 and set(seen) == {2, 4} and seen[:4] == [4, 2, 4, 2]  # step k: lengths[k % 2]
