"""`evaluate`: the outputs are the model's greedy answers whatever the batching, the scores are the metric's,
an interrupted evaluation resumes to the same results, out of memory is a result, and an output folder
never mixes two evaluations."""

from __future__ import annotations

import json

import pytest
import torch

import lm2.evaluation.run as run_module
from lm2.cli.main import main
from lm2.data import compare_answers, encode_sample, load_babilong, story_last_label
from lm2.evaluation import FolderSource, GeneratedSource, evaluate, generate_answers, read_csv
from lm2.evaluation.report import format_summary
from lm2.integrations.pretrained import load_pretrained
from tests.evaluation.conftest import save_model

TIMING = ("seconds", "data_seconds")


def _stable(results: dict) -> dict:
    """The results without what legitimately changes between runs (timings, sessions, paths)."""
    cells = {t: {n: {k: v for k, v in r.items() if k not in TIMING} for n, r in c.items()}
             for t, c in results["cells"].items()}  # fmt: skip
    return {"identity": results["identity"], "accuracy": results["accuracy"], "cells": cells}


def _csvs(out) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(out.glob("*.csv"))}


def test_outputs_are_the_models_greedy_answers_and_scores_follow_the_metric(model_dir, data_dir, tmp_path):
    model, tokenizer = load_pretrained(model_dir)
    results = evaluate(model, tokenizer, FolderSource(data_dir), tmp_path / "a", batch_size=3, model_path=model_dir)
    assert results["tasks"] == ["qa1", "qa2"] and results["lengths"] == ["0k", "60"]
    for task in results["tasks"]:
        for length in results["lengths"]:
            samples = load_babilong(data_dir, task, length)
            rows = read_csv(tmp_path / "a" / results["cells"][task][length]["csv"])
            prompts = [encode_sample(tokenizer, s, with_answer=False)["input_ids"] for s in samples]
            assert [r["output"] for r in rows] == generate_answers(model, tokenizer, prompts, batch_size=1)
            assert [(r["target"], r["question"]) for r in rows] == [(s["target"], s["question"]) for s in samples]
            hits = [compare_answers(r["target"], r["output"], r["question"], task) for r in rows]
            assert results["accuracy"][task][length] == sum(hits) / len(hits)
    assert (tmp_path / "a" / "heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # one sample per batch gives the same answers as three (left padding never changes a sample's result)
    evaluate(model, tokenizer, FolderSource(data_dir), tmp_path / "b", batch_size=1)
    assert _csvs(tmp_path / "a") == _csvs(tmp_path / "b")


def test_accuracy_counts_right_answers(model_dir, data_dir, tmp_path, monkeypatch):
    """With answers forced (every other one right), the matrix holds exactly the share of right answers."""
    model, tokenizer = load_pretrained(model_dir)
    targets = {}
    for task in ("qa1", "qa2"):
        for sample in load_babilong(data_dir, task, "0k"):
            prompt = tuple(encode_sample(tokenizer, sample, with_answer=False)["input_ids"])
            targets[prompt] = sample["target"] if len(targets) % 2 == 0 else "nowhere"

    def forced(model, tokenizer, prompts, max_new_tokens=8, batch_size=16):
        return [targets[tuple(p)] for p in prompts]

    monkeypatch.setattr(run_module, "generate_answers", forced)
    results = evaluate(model, tokenizer, FolderSource(data_dir, lengths="0k"), tmp_path)
    assert results["accuracy"] == {"qa1": {"0k": 0.5}, "qa2": {"0k": 0.5}}
    assert results["cells"]["qa1"]["0k"]["baselines"]["chance"] == pytest.approx(1 / 6)


def test_an_interrupted_evaluation_resumes_without_redoing_finished_cells(model_dir, data_dir, tmp_path, monkeypatch):
    model, tokenizer = load_pretrained(model_dir)
    whole = evaluate(model, tokenizer, FolderSource(data_dir), tmp_path / "whole")
    calls, state = [], {"interrupt": True}
    real_run_cell = run_module.run_cell

    def interrupted(model, tokenizer, source, task, length, *args):
        calls.append((task, length))
        if len(calls) == 2 and state["interrupt"]:
            state["interrupt"] = False
            raise KeyboardInterrupt  # Ctrl-C during the second cell
        return real_run_cell(model, tokenizer, source, task, length, *args)

    monkeypatch.setattr(run_module, "run_cell", interrupted)
    with pytest.raises(KeyboardInterrupt):
        evaluate(model, tokenizer, FolderSource(data_dir), tmp_path / "resumed")
    saved = json.loads((tmp_path / "resumed" / "results.json").read_text())
    assert list(saved["cells"]) == ["qa1"] and list(saved["cells"]["qa1"]) == ["0k"]
    calls.clear()
    skipped = []
    resumed = evaluate(model, tokenizer, FolderSource(data_dir), tmp_path / "resumed",
                       on_cell=lambda t, n, r, s: s and skipped.append((t, n)))  # fmt: skip
    assert skipped == [("qa1", "0k")] and ("qa1", "0k") not in calls and len(calls) == 3
    assert _stable(resumed) == _stable(whole)
    assert _csvs(tmp_path / "resumed") == _csvs(tmp_path / "whole")
    assert len(resumed["sessions"]) == 2 and resumed["wall_seconds"] >= resumed["sessions"][1]["seconds"]


def test_more_lengths_in_the_same_folder_only_compute_the_new_cells(model_dir, data_dir, tmp_path, monkeypatch):
    model, tokenizer = load_pretrained(model_dir)
    evaluate(model, tokenizer, FolderSource(data_dir, lengths="0k"), tmp_path)
    calls = []
    real_run_cell = run_module.run_cell
    monkeypatch.setattr(run_module, "run_cell", lambda *a: calls.append(a[3:5]) or real_run_cell(*a))
    results = evaluate(model, tokenizer, FolderSource(data_dir, lengths="0k,60"), tmp_path)
    assert calls == [("qa1", "60"), ("qa2", "60")]
    assert set(results["accuracy"]["qa1"]) == {"0k", "60"}


def test_is_finished_only_when_evaluate_would_run_no_cell(model_dir, data_dir, tmp_path, tokenizer):
    """`is_finished` lets a caller skip an evaluation: true for the same evaluation with every cell done, false for a
    missing folder, a missing cell or CSV, or another model, data or metric (which `evaluate` would refuse)."""
    from lm2.evaluation import is_finished

    model, tok = load_pretrained(model_dir)
    source = FolderSource(data_dir, lengths="0k")
    assert not is_finished(model, tok, source, tmp_path / "eval")
    evaluate(model, tok, source, tmp_path / "eval")
    assert is_finished(model, tok, source, tmp_path / "eval")
    assert not is_finished(model, tok, FolderSource(data_dir, lengths="0k,60"), tmp_path / "eval")
    assert not is_finished(model, tok, FolderSource(data_dir, lengths="0k", samples=2), tmp_path / "eval")
    assert not is_finished(model, tok, source, tmp_path / "eval", metric="official")
    other, _ = load_pretrained(save_model(tmp_path / "other-model", tokenizer, seed=1))
    assert not is_finished(other, tok, source, tmp_path / "eval")
    next((tmp_path / "eval").glob("qa2_*.csv")).unlink()  # a cell whose answers are gone is run again
    assert not is_finished(model, tok, source, tmp_path / "eval")


def test_a_folder_with_another_evaluation_is_refused(model_dir, data_dir, tmp_path, tokenizer):
    model, tok = load_pretrained(model_dir)
    evaluate(model, tok, FolderSource(data_dir, lengths="0k"), tmp_path)
    other, _ = load_pretrained(save_model(tmp_path / "other-model", tokenizer, seed=1))
    with pytest.raises(ValueError, match=r"results of a different evaluation \(model: "):
        evaluate(other, tok, FolderSource(data_dir, lengths="0k"), tmp_path)
    with pytest.raises(ValueError, match=r"metric: 'fixed' in results.json vs 'official' now"):
        evaluate(model, tok, FolderSource(data_dir, lengths="0k"), tmp_path, metric="official")
    with pytest.raises(ValueError, match=r"data.samples: None in results.json vs 2 now"):
        evaluate(model, tok, FolderSource(data_dir, lengths="0k", samples=2), tmp_path)
    with pytest.raises(ValueError, match=r"max_new_tokens: 8 in results.json vs 4 now"):
        evaluate(model, tok, FolderSource(data_dir, lengths="0k"), tmp_path, max_new_tokens=4)


def _out_of_memory(*args, **kwargs):
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 64.00 GiB")


def test_out_of_memory_halves_the_batch_then_reports_the_cell(model_dir, data_dir, tmp_path, monkeypatch):
    model, tokenizer = load_pretrained(model_dir)
    real = run_module.generate_answers
    sizes = []

    def small_batches_only(model, tokenizer, prompts, max_new_tokens=8, batch_size=16):
        sizes.append(len(prompts))
        return _out_of_memory() if len(prompts) > 1 else real(model, tokenizer, prompts, max_new_tokens, batch_size)

    monkeypatch.setattr(run_module, "generate_answers", small_batches_only)
    results = evaluate(model, tokenizer, FolderSource(data_dir, tasks="qa1", lengths="0k"), tmp_path / "a")
    assert sizes[:3] == [4, 2, 1] and results["cells"]["qa1"]["0k"]["batch_size"] == 1
    assert results["cells"]["qa1"]["0k"]["status"] == "done"

    monkeypatch.setattr(run_module, "generate_answers", _out_of_memory)
    results = evaluate(model, tokenizer, FolderSource(data_dir), tmp_path / "b")
    for task in ("qa1", "qa2"):
        for length in ("0k", "60"):
            cell = results["cells"][task][length]
            assert cell["status"] == "oom" and cell["accuracy"] is None and "out of memory" in cell["error"]
            assert cell["baselines"]["chance"] > 0  # the baselines do not need the model
    assert not list((tmp_path / "b").glob("*.csv")) and (tmp_path / "b" / "heatmap.png").is_file()
    # out-of-memory cells are tried again by the next run
    monkeypatch.setattr(run_module, "generate_answers", real)
    results = evaluate(model, tokenizer, FolderSource(data_dir), tmp_path / "b")
    assert all(r["status"] == "done" for cells in results["cells"].values() for r in cells.values())


def test_max_tokens_guards_full_attention_models_only(model_dir, vanilla_dir, data_dir, tmp_path, monkeypatch):
    source = FolderSource(data_dir, tasks="qa1")
    vanilla, tokenizer = load_pretrained(vanilla_dir)
    longest_0k = max(len(encode_sample(tokenizer, s, False)["input_ids"]) for s in source.load("qa1", "0k"))
    results = evaluate(vanilla, tokenizer, source, tmp_path / "vanilla", max_tokens=longest_0k)
    assert results["cells"]["qa1"]["0k"]["status"] == "done"
    assert results["cells"]["qa1"]["60"]["status"] == "oom"
    assert "over max_tokens" in results["cells"]["qa1"]["60"]["error"]
    # run again with the same guard, the left-out cell stays left out without its samples being built again;
    # with a larger one it runs
    again = evaluate(vanilla, tokenizer, source, tmp_path / "vanilla", max_tokens=longest_0k)
    assert again["sessions"][-1]["cells"] == [] and again["cells"]["qa1"]["60"]["status"] == "oom"
    wider = evaluate(vanilla, tokenizer, source, tmp_path / "vanilla", max_tokens=10 * longest_0k)
    assert wider["sessions"][-1]["cells"] == ["qa1/60"] and wider["cells"]["qa1"]["60"]["status"] == "done"
    lm2_model, _ = load_pretrained(model_dir)  # segments: any length runs in bounded memory
    results = evaluate(lm2_model, tokenizer, source, tmp_path / "lm2", max_tokens=longest_0k)
    assert results["cells"]["qa1"]["60"]["status"] == "done"


def test_generated_samples_are_those_of_lm2_data_babilong(model_dir, tokenizer, tmp_path):
    built = tmp_path / "built"
    argv = ["data", "babilong", "--generate", "--tasks", "qa2", "--lengths", "0k,80", "--samples", "3"]
    assert main([*argv, "--seed", "5", "--out", str(built), "--tokenizer", str(model_dir)]) == 0
    source = GeneratedSource(tokenizer, tasks="qa2", lengths="0k,80", samples=3, seed=5, babi="generate")
    for length in ("0k", "80"):
        loaded = source.load("qa2", length)
        records = [{k: s[k] for k in ("input", "question", "target")} for s in loaded]
        assert records == load_babilong(built, "qa2", length)
        for sample in loaded:  # and the story's statements, in the input in their order
            at = 0
            for fact in sample["facts"]:
                at = sample["input"].index(fact, at) + len(fact)


def test_the_latest_facts_place_is_a_baseline_and_splits_the_models_accuracy(model_dir, data_dir, tmp_path):
    """With generated samples (which know their stories), each cell reports `latest_fact` (the place named in the
    story's latest statement) and the model's accuracy on the questions where that place is wrong; a folder of
    samples without their statements reports neither."""
    model, tokenizer = load_pretrained(model_dir)
    source = GeneratedSource(tokenizer, tasks="qa1", lengths="0k,60", samples=12, babi="generate")
    results = evaluate(model, tokenizer, source, tmp_path / "generated")
    for length in ("0k", "60"):
        samples, cell = source.load("qa1", length), results["cells"]["qa1"][length]
        outputs = [row["output"] for row in read_csv(tmp_path / "generated" / cell["csv"])]
        latest = [story_last_label(s["facts"], s["question"], "qa1") for s in samples]
        right = [compare_answers(s["target"], p, s["question"], "qa1") for s, p in zip(samples, latest, strict=True)]
        assert cell["baselines"]["latest_fact"] == pytest.approx(sum(right) / len(right))
        wrong = [i for i, r in enumerate(right) if not r]
        assert 0 < len(wrong) < len(samples)  # both kinds of question are in these samples
        hits = [compare_answers(samples[i]["target"], outputs[i], samples[i]["question"], "qa1") for i in wrong]
        assert cell["latest_fact_wrong"] == {"samples": len(wrong), "accuracy": pytest.approx(sum(hits) / len(hits))}
    assert "model, latest fact wrong" in format_summary(results)
    del results["cells"]["qa1"]["0k"]["baselines"]["latest_fact"], results["cells"]["qa1"]["0k"]["latest_fact_wrong"]
    row = next(line for line in format_summary(results).splitlines() if line.startswith("qa1   0k"))
    assert row.count("—") == 2  # a cell without them is shown as such (the header line has a dash of its own)
    folder = evaluate(model, tokenizer, FolderSource(data_dir, tasks="qa1"), tmp_path / "folder")
    for cell in folder["cells"]["qa1"].values():
        assert "latest_fact" not in cell["baselines"] and "latest_fact_wrong" not in cell


def test_every_person_asks_each_input_about_everyone_and_bounds_person_blind_answers(model_dir, tmp_path, monkeypatch):
    """`every_person`: each input is asked about every person of its story (its own question among them, each
    target that person's latest place); a model that gives an input one answer whoever is asked stays at or under
    the person-blind bound, one that answers by the person goes above it."""
    model, tokenizer = load_pretrained(model_dir)
    plain = GeneratedSource(tokenizer, tasks="qa1", lengths="60", samples=10, babi="generate")
    source = GeneratedSource(tokenizer, tasks="qa1", lengths="60", samples=10, babi="generate", every_person=True)
    assert "every_person" not in plain.describe() and source.describe()["every_person"] is True
    records, own = source.load("qa1", "60"), plain.load("qa1", "60")
    for n, sample in enumerate(own):
        asked = [r for r in records if r["group"] == n]
        assert {r["input"] for r in asked} == {sample["input"]}
        persons = {fact.split(" ")[0] for fact in sample["facts"]}
        assert sorted(r["question"] for r in asked) == sorted(f"Where is {p}?" for p in persons)
        assert {"question": sample["question"], "target": sample["target"]} in [
            {"question": r["question"], "target": r["target"]} for r in asked
        ]  # its own question, same answer
        for r in asked:  # the target is the place of that person's latest statement
            person = r["question"][len("Where is ") : -1]
            latest = [f for f in sample["facts"] if f.startswith(person + " ")][-1]
            assert latest.rstrip(".").endswith(r["target"])
    answers = {}

    def answer(model, tokenizer, prompts, max_new_tokens=8, batch_size=16):
        return [answers[tuple(p)] for p in prompts]

    monkeypatch.setattr(run_module, "generate_answers", answer)
    for r in records:  # one answer per input, whoever is asked: the first person's place
        first = next(x for x in records if x["group"] == r["group"])
        answers[tuple(encode_sample(tokenizer, r, with_answer=False)["input_ids"])] = first["target"]
    blind = evaluate(model, tokenizer, source, tmp_path / "blind")["cells"]["qa1"]["60"]
    assert blind["accuracy"] <= blind["baselines"]["person_blind"] and blind["inputs_with_several_answers"] == 0
    for r in records:  # the asked person's place
        answers[tuple(encode_sample(tokenizer, r, with_answer=False)["input_ids"])] = r["target"]
    reads = evaluate(model, tokenizer, source, tmp_path / "reads")["cells"]["qa1"]["60"]
    assert reads["accuracy"] == 1.0 > reads["baselines"]["person_blind"] and reads["inputs_with_several_answers"] > 0
    assert "inputs with several answers" in format_summary(evaluate(model, tokenizer, source, tmp_path / "reads"))
    with pytest.raises(ValueError, match="every_person asks every person of a qa1 story; tasks=qa2, allowed: qa1"):
        GeneratedSource(tokenizer, tasks="qa2", lengths="60", babi="generate", every_person=True)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"metric": "exact"}, "metric='exact' is not allowed; choose one of fixed, official"),
        ({"batch_size": 0}, "batch_size=0 must be a positive integer"),
        ({"max_new_tokens": -1}, "max_new_tokens=-1 must be a positive integer"),
        ({"max_tokens": 0}, "max_tokens=0 must be a positive integer or None"),
    ],
)
def test_bad_settings_are_named(model_dir, data_dir, tmp_path, kwargs, message):
    model, tokenizer = load_pretrained(model_dir)
    with pytest.raises(ValueError, match=message):
        evaluate(model, tokenizer, FolderSource(data_dir), tmp_path, **kwargs)
    assert not (tmp_path / "results.json").exists()


def test_the_callers_training_mode_is_restored(model_dir, data_dir, tmp_path):
    model, tokenizer = load_pretrained(model_dir)
    model.train()  # e.g. a model evaluated in the middle of training
    modes = []
    evaluate(model, tokenizer, FolderSource(data_dir, tasks="qa1", lengths="0k"), tmp_path,
             on_batch=lambda *a: modes.append(model.training))  # fmt: skip
    assert modes == [False] and model.training
