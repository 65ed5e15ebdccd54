"""`lm2 probe` (lm2.analysis.probe): qa1 facts to labels, memory snapshots, the two probes and the command.
Samples come from the offline bAbI generator and generated prose; models are tiny and random."""

from __future__ import annotations

import json

import pytest
import torch

from lm2 import LM2Config, LM2ForCausalLM
from lm2.analysis.probe import (
    asked_person,
    boundaries,
    fact_place,
    fit_probes,
    memory_snapshots,
    places_at,
    predict,
    train_attention_probes,
    train_probes,
)
from lm2.analysis.retention import fact_spans
from lm2.cli.main import main
from lm2.data import task_labels
from lm2.data.babilong import encode_sample
from lm2.evaluation import GeneratedSource
from tests.evaluation.conftest import TINY, save_model

LABELS = [label.lower() for label in task_labels("qa1")]


@pytest.fixture(scope="module")
def samples(tokenizer):
    return GeneratedSource(tokenizer, tasks="qa1", lengths="200", samples=8, babi="generate").build("qa1", "200")


def test_a_qa1_fact_names_its_person_and_place():
    assert fact_place("Mary moved to the bathroom.", LABELS) == ("Mary", "bathroom")
    assert fact_place("Daniel went back to the hallway.", LABELS) == ("Daniel", "hallway")
    with pytest.raises(ValueError, match="names no place"):
        fact_place("Mary picked up the football.", LABELS)


def test_the_asked_persons_latest_place_before_the_question_is_the_answer(samples, tokenizer):
    for sample in samples:
        prompt = encode_sample(tokenizer, sample, with_answer=False)
        places = places_at(sample, fact_spans(sample, tokenizer), prompt["question_start"], LABELS)
        assert places[asked_person(sample)]["place"] == sample.target.lower()
        # the place named last is the shortcut's answer for exactly one place; distances count tokens after each fact
        assert {p["place"] for p in places.values() if p["last_label"]} == {fact_place(sample.facts[-1], LABELS)[1]}
        assert all(0 <= p["distance"] < prompt["question_start"] for p in places.values())
        assert places_at(sample, fact_spans(sample, tokenizer), 1, LABELS) == {}  # before any fact: no label


def test_boundaries_stop_at_the_segment_holding_the_question():
    assert boundaries(question_start=100, segment_length=16, every=2) == ([32, 64, 96], 96)
    assert boundaries(question_start=96, segment_length=16, every=3) == ([48, 96], 96)
    assert boundaries(question_start=10, segment_length=16, every=1) == ([], 0)


def _model(arch: str) -> LM2ForCausalLM:
    torch.manual_seed(0)
    extra = {"initializer_range": 0.2} if arch == "armt" else {}
    return (
        LM2ForCausalLM(LM2Config(arch=arch, vocab_size=400, **{**TINY, "segment_length": 8, **extra})).double().eval()
    )


@pytest.mark.parametrize("arch", ["lm2", "rmt", "armt"])
def test_snapshots_side_by_side_are_each_prompts_own_and_ignore_what_follows(arch):
    model = _model(arch)
    g = torch.Generator().manual_seed(1)
    prompts = [torch.randint(4, 400, (n,), generator=g).tolist() for n in (40, 27, 33)]
    cuts = [[8, 24, 40], [16], [8, 32]]
    together = memory_snapshots(model, prompts, cuts, batch_size=3)
    for prompt, points, got in zip(prompts, cuts, together, strict=True):
        alone = memory_snapshots(model, [prompt], [points], batch_size=1)[0]
        assert got.shape == alone.shape and got.shape[0] == len(points)
        # float32 copies of float64 states; the batch changes only summation orders
        torch.testing.assert_close(got, alone, rtol=1e-6, atol=1e-6)
        changed = prompt[: points[0]] + [3] * (len(prompt) - points[0])  # every token after the first cut replaced
        cut = memory_snapshots(model, [changed], [points[:1]])[0][0]
        torch.testing.assert_close(cut, alone[0], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="not segment boundaries"):
        memory_snapshots(model, prompts[:1], [[12]])
    vanilla = LM2ForCausalLM(LM2Config(arch="vanilla", vocab_size=400, **TINY)).eval()
    with pytest.raises(ValueError, match="carries no memory"):
        memory_snapshots(vanilla, prompts[:1], [[16]])


def test_probes_fitted_together_are_the_probes_fitted_alone():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 10, generator=g, dtype=torch.float64)
    y = torch.stack([(x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long(), (x[:, 2] > 0).long()], dim=1)
    y[::7, 1] = -1  # rows without a label for the second column
    weights, biases = fit_probes(x, y, 4, [1e-3, 1e-2])
    for column, l2 in enumerate([1e-3, 1e-2]):
        keep = y[:, column] >= 0
        alone_w, alone_b = fit_probes(x[keep], y[keep, column : column + 1], 4, [l2])
        # the same class probabilities (a constant added to every bias changes none; L-BFGS stops near the minimum)
        together = (x @ weights[column] + biases[column]).softmax(-1)
        torch.testing.assert_close(together, (x @ alone_w[0] + alone_b[0]).softmax(-1), rtol=0, atol=1e-4)
    right = (predict(weights, biases, x) == y)[y >= 0]
    assert right.double().mean() > 0.97  # separable by signs: the probes learn them
    with pytest.raises(ValueError, match="one per column"):
        fit_probes(x, y, 4, [1e-3])


def _rows_with_bound_facts(n: int, seed: int) -> tuple[torch.Tensor, list[dict]]:
    """Snapshots of 6 rows of width 9: three rows, at random places, each hold a person's marker (columns 0-2)
    and that person's place (columns 3-8); the other rows are noise. Person 'A''s place is in the row with
    marker 0: which place is A's is a product of two features of one row (a binding), not a sum."""
    g = torch.Generator().manual_seed(seed)
    rows = 0.1 * torch.randn(n, 6, 9, generator=g)
    places = torch.randint(0, 6, (n, 3), generator=g)
    where = torch.rand(n, 6, generator=g).argsort(dim=1)[:, :3]
    for person in range(3):
        rows[torch.arange(n), where[:, person], person] += 1.0
        rows[torch.arange(n), where[:, person], 3 + places[:, person]] += 1.0
    examples = [{"row": i, "input": i, "person": "A", "place": LABELS[int(c)]} for i, c in enumerate(places[:, 0])]
    return rows, examples


def test_the_attention_probe_reads_a_bound_fact_in_any_row_where_the_linear_probe_cannot():
    rows, examples = _rows_with_bound_facts(1000, seed=0)
    test_rows, test_examples = _rows_with_bound_facts(300, seed=1)
    truth = torch.tensor([LABELS.index(e["place"]) for e in test_examples])
    attention = train_attention_probes(rows, examples, LABELS, steps=600, check_every=100)
    linear = train_probes(rows.flatten(1).double(), examples, LABELS, [1e-3, 1e-2])
    assert attention["summary"]["A"]["holdout"] > 0.9
    assert (attention["predict"](test_rows)[:, 0] == truth).double().mean() > 0.9
    assert (linear["predict"](test_rows.flatten(1))[:, 0] == truth).double().mean() < 0.5  # chance: 1/6


def test_cli_writes_both_probes_tables_and_refuses_bad_options(tokenizer, tmp_path, capsys, caplog):
    model_dir = save_model(tmp_path / "lm2", tokenizer, segment_length=16)
    out = tmp_path / "probe"
    argv = ["probe", str(model_dir), "--out", str(out), "--length", "200", "--babi", "generate", "--samples", "6",
            "--train-samples", "10", "--every", "2", "--attention-steps", "20", "--bins", "50,100"]  # fmt: skip
    assert main(argv) == 0
    record = json.loads((out / "probe.json").read_text())
    assert set(record["probes"]) == {"linear", "attention"} and record["data"]["train"]["split"] == "train"
    assert record["wall_seconds"] > 0
    for probe in record["probes"].values():
        assert len(probe["records"]["asked"]) == 6 and probe["everyone"]["examples"] >= 6
        assert sum(row["samples"] for row in probe["asked"]["by_distance"]) == 6
    assert "attention probe" in (out / "probe.md").read_text() and "linear probe" in capsys.readouterr().out
    # without --every, a sixteenth of the input's segments (200 tokens: 12 segments of 16, so every segment)
    assert main(["probe", str(model_dir), "--out", str(tmp_path / "auto"), "--length", "200", "--babi", "generate",
                 "--samples", "2", "--train-samples", "4", "--attention-steps", "5"]) == 0  # fmt: skip
    assert json.loads((tmp_path / "auto" / "probe.json").read_text())["train"]["every"] == 1
    assert main([*argv[:3], str(tmp_path / "a"), "--task", "qa2"]) == 2
    assert "--task: task='qa2' cannot be probed; allowed: qa1" in caplog.text
    assert main([*argv[:3], str(tmp_path / "b"), "--l2", "-1"]) == 2
    assert "--l2='-1' must be L2 weights" in caplog.text
    vanilla = save_model(tmp_path / "vanilla", tokenizer, arch="vanilla")
    assert main(["probe", str(vanilla), "--out", str(tmp_path / "c"), "--babi", "generate"]) == 2
    assert "carries no memory across segments" in caplog.text
    assert main([*argv, "--samples", "7"]) == 2  # another run's folder
    assert "holds the output of another run" in caplog.text
    assert json.loads((out / "probe.json").read_text()) == record
