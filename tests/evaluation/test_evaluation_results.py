"""The metric, the baselines and the results layout on hand-written fixtures: what a reader of results.json
and of the CSVs relies on."""

from __future__ import annotations

import json

import pytest

from lm2.evaluation import accuracy, baseline_accuracies, csv_name, load_results, read_csv
from lm2.evaluation.results import (
    check_identity,
    new_results,
    record_cell,
    save_results,
    write_csv,
)

QA1 = [
    # last_mention is right (the actor's last move); last_label is wrong (someone else moved later)
    {"input": "Mary went to the kitchen. John moved to the garden.", "question": "Where is Mary?", "target": "kitchen"},
    # both shortcuts right
    {"input": "John went to the office. Mary went to the hallway.", "question": "Where is Mary?", "target": "hallway"},
    # both wrong: the target is not in the story
    {"input": "Sandra went to the bedroom.", "question": "Where is Sandra?", "target": "garden"},
    {"input": "Daniel went to the kitchen.", "question": "Where is Daniel?", "target": "kitchen"},
]


def test_baselines_score_the_shortcuts_with_the_metric():
    scores = baseline_accuracies(QA1, "qa1")
    assert scores["chance"] == pytest.approx(1 / 6)
    assert scores["last_mention"] == pytest.approx(3 / 4)
    assert scores["last_label"] == pytest.approx(2 / 4)
    assert scores["majority"] == pytest.approx(2 / 4)  # "kitchen" twice


def test_metric_modes_differ_on_the_known_qa7_quirk():
    targets, outputs, questions = ["none", "two"], ["none", "two"], ["How many objects is Mary carrying?"] * 2
    # hits / count in Python floats: exact (IEEE division of small integers), so == on any CPU.
    assert accuracy(targets, outputs, questions, "qa7", "fixed") == 1.0
    assert accuracy(targets, outputs, questions, "qa7", "official") == 0.5  # "none" contains "one"
    assert accuracy([], [], [], "qa1") == 0.0


def test_csv_is_babilongs_layout_and_round_trips_awkward_text(tmp_path):
    assert csv_name("qa1", "4k") == "qa1_4k_instruction_no_examples_no_post_prompt_no.csv"
    path = tmp_path / csv_name("qa1", "0k")
    outputs = ['kitchen, "then" the', "line\nbreak", ""]
    write_csv(path, ["kitchen", "garden", "office"], outputs, ["Where is Mary?"] * 3)
    assert path.read_text().splitlines()[0] == "target,output,question"
    rows = read_csv(path)
    assert [r["output"] for r in rows] == outputs and rows[0]["target"] == "kitchen"
    assert not list(tmp_path.glob(".*tmp*")), "temporary files must not be left behind"
    # BABILong's own files (pandas, with a leading index column) read the same way
    official = tmp_path / "official.csv"
    official.write_text(",target,output,question\n0,kitchen,kitchen,Where is Mary?\n1,garden,,Where is John?\n")
    assert read_csv(official) == [
        {"target": "kitchen", "output": "kitchen", "question": "Where is Mary?"},
        {"target": "garden", "output": "", "question": "Where is John?"},
    ]


def _record(accuracy: float | None, status: str = "done") -> dict:
    return {"status": status, "accuracy": accuracy, "samples": 4, "csv": "x.csv",
            "baselines": {"chance": 0.2, "last_label": 0.5, "last_mention": 0.25, "majority": 0.5}}  # fmt: skip


def test_cells_keep_the_natural_order_of_tasks_and_lengths(tmp_path):
    results = new_results({"metric": "fixed"}, {"metric": "fixed"})
    for task, length in [("qa10", "4k"), ("qa2", "16k"), ("qa2", "1500"), ("qa10", "0k")]:
        record_cell(results, task, length, _record(0.5))
    record_cell(results, "qa2", "4k", _record(None, "oom"))
    assert results["tasks"] == ["qa2", "qa10"]
    assert results["lengths"] == ["0k", "1500", "4k", "16k"]
    assert results["accuracy"] == {"qa2": {"1500": 0.5, "4k": None, "16k": 0.5}, "qa10": {"0k": 0.5, "4k": 0.5}}
    save_results(tmp_path, results)
    assert load_results(tmp_path) == load_results(tmp_path / "results.json") == results


def test_results_of_another_evaluation_are_named_not_mixed(tmp_path):
    identity = {"model": "abc", "data": {"source": "folder", "path": "/d", "samples": None}, "metric": "fixed"}
    results = new_results(identity, {})
    check_identity(results, json.loads(json.dumps(identity)), tmp_path)  # the same: fine
    other = {**identity, "data": {**identity["data"], "samples": 10}}
    with pytest.raises(ValueError, match=r"data\.samples: None in results\.json vs 10 now"):
        check_identity(results, other, tmp_path)


@pytest.mark.parametrize(
    "content, message",
    [("{not json", "is not valid JSON"), ('{"format": "other"}', "is not an lm2 eval results file"), ("[]", "list")],
)
def test_load_results_names_a_bad_file(tmp_path, content, message):
    (tmp_path / "results.json").write_text(content)
    with pytest.raises(ValueError, match=message):
        load_results(tmp_path)
    with pytest.raises(FileNotFoundError, match="no results file"):
        load_results(tmp_path / "missing")
