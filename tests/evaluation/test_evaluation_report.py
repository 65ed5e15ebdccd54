"""`lm2 compare` and the reports: the Markdown table holds each model's numbers in the LM2 paper's Table 1
layout, averages never hide out-of-memory or missing cells, and the heatmaps are drawn side by side."""

from __future__ import annotations

import re

import pytest

from lm2.cli.main import main
from lm2.evaluation import compare, format_summary, mean_accuracy, plot_heatmaps
from lm2.evaluation.results import new_results, record_cell, save_results

BASELINES = {"chance": 1 / 6, "last_label": 0.25, "last_mention": 0.5, "majority": 0.3}


def _results(scores: dict, metric: str = "fixed", arch: str = "lm2") -> dict:
    """A results dict with the given {(task, length): accuracy or "oom"} cells."""
    identity = {"model": arch, "data": {"source": "folder", "path": "/data", "samples": None}, "metric": metric}
    metadata = {
        "model": {"path": f"/models/{arch}", "type": "lm2", "config": {"arch": arch, "vanilla_mode": "full"},
                  "parameters": 1234, "dtype": "float32", "full_attention": arch == "vanilla"},
        "data": identity["data"], "metric": metric, "seed": None, "versions": {},
    }  # fmt: skip
    results = new_results(identity, metadata)
    for (task, length), score in scores.items():
        oom = score == "oom"
        record = {"status": "oom" if oom else "done", "accuracy": None if oom else score, "samples": 10,
                  "baselines": BASELINES, "csv": "x.csv", "seconds": 1.0}  # fmt: skip
        record.update({"error": "too long"} if oom else {})
        record_cell(results, task, length, record)
    results["sessions"], results["wall_seconds"] = [{"seconds": 4.0}], 4.0
    return results


LM2 = {("qa1", "0k"): 1.0, ("qa1", "4k"): 0.8, ("qa2", "0k"): 0.6, ("qa2", "4k"): 0.4}
VANILLA = {("qa1", "0k"): 0.9, ("qa1", "4k"): "oom", ("qa2", "0k"): 0.7}  # qa2 4k not evaluated


@pytest.fixture
def two_runs(tmp_path):
    for name, scores, arch in (("eval-lm2", LM2, "lm2"), ("eval-vanilla", VANILLA, "vanilla")):
        (tmp_path / name).mkdir()
        save_results(tmp_path / name, _results(scores, arch=arch))
    return tmp_path / "eval-lm2" / "results.json", tmp_path / "eval-vanilla"


def _row(table: str, label: str, model: str) -> list[str]:
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) > 2 and cells[0] == label and cells[1] == model:
            return cells[2:]
    raise AssertionError(f"no row {label!r} {model!r} in\n{table}")


def _second_row(table: str, label: str) -> list[str]:
    lines = table.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {label} |"))
    return _row(lines[start + 1], "", "eval-vanilla")


def test_compare_writes_the_table_in_table_1_layout_and_the_heatmaps(two_runs, tmp_path, capsys):
    assert main(["compare", str(two_runs[0]), str(two_runs[1]), "--out", str(tmp_path / "cmp")]) == 0
    table = (tmp_path / "cmp" / "comparison.md").read_text()
    assert table in capsys.readouterr().out
    assert "| length | model | qa1 | qa2 | avg |" in table and "metric: fixed" in table
    assert _row(table, "0k", "eval-lm2") == ["**100.0**", "60.0", "80.0"]  # equal averages: neither bold
    assert _row(table, "", "eval-vanilla") == ["90.0", "**70.0**", "80.0"]  # the 0k block's second row
    assert _row(table, "4k", "eval-lm2") == ["80.0", "40.0", "60.0"]
    assert _second_row(table, "4k") == ["OOM", "—", "—"]  # vanilla: out of memory, not evaluated, no average
    assert _row(table, "avg (all lengths)", "eval-lm2") == ["90.0", "50.0", "70.0"]  # nothing to beat: plain
    assert _second_row(table, "avg (all lengths)") == ["—", "—", "—"]  # averages over OOM / missing cells: none
    assert _row(table, "chance", "") == ["16.7", "16.7", "16.7"]
    png = (tmp_path / "cmp" / "comparison.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")
    single = plot_heatmaps([_results(LM2)], tmp_path / "one.png").read_bytes()
    assert width > 1.5 * int.from_bytes(single[16:20], "big")  # two panels side by side


def test_compare_names_and_errors(two_runs, tmp_path, caplog):
    table = compare(two_runs, tmp_path / "cmp", names=["LM2-tiny", "Llama-tiny"])
    assert _row(table, "0k", "LM2-tiny") and "**LM2-tiny**: /models/lm2 (lm2, 1,234 parameters" in table
    assert main(["compare", str(two_runs[0]), "--names", "a,b", "--out", str(tmp_path / "x")]) == 2
    assert "names: 2 given for 1 results files" in caplog.text
    official = tmp_path / "official"
    official.mkdir()
    save_results(official, _results(LM2, metric="official"))
    with pytest.raises(ValueError, match=r"different metric modes \(eval-lm2: fixed, official: official\)"):
        compare([two_runs[0], official], tmp_path / "cmp")
    with pytest.raises(FileNotFoundError, match="no results file"):
        compare([tmp_path / "nothing.json"], tmp_path / "cmp")


def test_summary_puts_the_baselines_beside_each_cell():
    text = format_summary(_results(VANILLA, arch="vanilla"))
    assert "metric: fixed" in text and "vanilla full, 1,234 parameters" in text
    assert re.search(r"^qa1\s+0k\s+10\s+90\.0%\s+16\.7%\s+25\.0%\s+50\.0%\s+30\.0%\s+1\.0$", text, flags=re.M)
    assert re.search(r"^qa1\s+4k\s+10\s+OOM\s+16\.7%", text, flags=re.M) and "OOM qa1 4k: too long" in text


def test_mean_accuracy_averages_scored_cells_only():
    lm2, vanilla = _results(LM2), _results(VANILLA, arch="vanilla")
    assert mean_accuracy(lm2, ["qa1", "qa2"], ["0k", "4k"]) == pytest.approx((1.0 + 0.8 + 0.6 + 0.4) / 4)
    assert mean_accuracy(lm2, ["qa1"], ["4k"]) == pytest.approx(0.8)
    assert mean_accuracy(vanilla, ["qa1", "qa2"], ["0k"]) == pytest.approx(0.8)
    assert mean_accuracy(vanilla, ["qa1"], ["0k", "4k"]) is None  # OOM
    assert mean_accuracy(vanilla, ["qa2"], ["4k"]) is None  # not evaluated
    with pytest.raises(ValueError, match="lengths=\\[\\]"):
        mean_accuracy(lm2, ["qa1"], [])
