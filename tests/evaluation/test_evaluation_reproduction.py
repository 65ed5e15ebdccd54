"""The reproduction study's report (`lm2.evaluation.reproduction`): the target check on the long-length
means, the bank-size ablation's tables, and a clear error when an evaluation is missing."""

from __future__ import annotations

import json

import pytest

from lm2.evaluation import reproduction as report
from tests.evaluation.test_evaluation_report import _results


def test_targets_compare_the_long_length_means():
    long = [(t, n) for t in report.TASKS for n in report.LONG]
    runs = {
        "lm2": _results({**{c: 0.6 for c in long}, ("qa1", "16k"): 0.95}),
        "rmt": _results({c: 0.4 for c in long}, arch="rmt"),
        "vanilla": _results({**{c: 0.5 for c in long}, ("qa5", "16k"): "oom"}, arch="vanilla"),
    }
    check = report.targets(runs)
    lm2_mean = (14 * 0.6 + 0.95) / 15
    assert check["mean_qa1_qa5_4k_16k"]["lm2"] == pytest.approx(lm2_mean)
    rmt = check["checks"]["lm2 / rmt (qa1-qa5, 4k-16k)"]
    assert rmt["value"] == pytest.approx(lm2_mean / 0.4) and rmt["met"]
    vanilla = check["checks"]["lm2 / vanilla (qa1-qa5, 4k-16k)"]  # an OOM cell: no average, not met
    assert vanilla["value"] is None and not vanilla["met"]
    assert check["checks"]["lm2 qa1 16k"] == {"value": 0.95, "target": 0.9, "met": True}


def test_bank_size_ablation_report(tmp_path):
    assert report.bank_size(tmp_path) is None  # not run: nothing written
    long = [(t, n) for t in report.TASKS for n in report.LONG]
    runs = {"lm2": 0.2, "ablations/lm2-bank64": 0.3, "ablations/lm2-bank16": 0.1, "ablations/lm2-bank8": None}
    for i, (name, score) in enumerate(runs.items()):
        folder = tmp_path / name
        (folder / "eval").mkdir(parents=True)
        if score is None:  # trained, not evaluated yet: left out
            continue
        results = _results({c: score for c in long})
        results["model"]["config"]["memory_slots"] = int(name.removeprefix("ablations/lm2-bank").replace("lm2", "32"))
        (folder / "eval" / "results.json").write_text(json.dumps(results))
        records = [{"step": 10, "loss": 1.0, "time": 0.0}, {"step": 20, "loss": 0.5, "time": 60.0 * (i + 1)},
                   {"eval": {"step": 20, "accuracy": {"qa1/8seg": score}, "stage_accuracy": score + 0.05}}]  # fmt: skip
        (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    report.bank_size(tmp_path)
    out = tmp_path / "ablations" / "bank_size"
    rows = [line for line in (out / "bank_size.md").read_text().splitlines()[2:]]
    assert rows == ["| 16 | 1,234 | 15.0 | 10.0 | 10.0 | 3.0 |", "| 32 | 1,234 | 25.0 | 20.0 | 20.0 | 1.0 |",
                    "| 64 | 1,234 | 35.0 | 30.0 | 30.0 | 2.0 |"]  # fmt: skip
    assert "lm2, bank 16" in (out / "comparison.md").read_text()
    assert {"comparison.png", "curves.md", "training_curves.png"} <= {f.name for f in out.iterdir()}


def test_write_report_names_the_missing_evaluations(tmp_path):
    with pytest.raises(FileNotFoundError, match="rmt/eval/results.json"):
        (tmp_path / "lm2" / "eval").mkdir(parents=True)
        (tmp_path / "lm2" / "eval" / "results.json").write_text("{}")
        report.write_report(tmp_path)
