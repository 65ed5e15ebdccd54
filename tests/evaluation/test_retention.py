"""`lm2 retention` (lm2.analysis.retention): fact spans, distances, counterfactuals, the memory difference and
the command. Samples come from the offline bAbI generator and generated prose; models are tiny and random."""

from __future__ import annotations

import json

import pytest
import torch

from lm2 import LM2Config, LM2ForCausalLM
from lm2.analysis.retention import (
    accuracy_by_distance,
    counterfactual,
    fact_spans,
    format_report,
    keep_last,
    measure,
    memory_difference,
    plot_retention,
    segments_back,
    supporting_distance,
    trace_after,
)
from lm2.cli.main import main
from lm2.data import task_labels
from lm2.data.babilong import encode_sample
from lm2.evaluation import GeneratedSource
from tests.evaluation.conftest import TINY


@pytest.fixture(scope="module")
def samples(tokenizer):
    return GeneratedSource(tokenizer, tasks="qa1", lengths="200", samples=6, babi="generate").build("qa1", "200")


def test_fact_spans_hold_exactly_the_facts_and_distance_counts_the_tokens_after_the_supporting_one(samples, tokenizer):
    for sample in samples:
        full = tokenizer.encode(" " + sample.input, add_special_tokens=False)
        spans = fact_spans(sample, tokenizer)
        assert [tokenizer.decode(full[a:b]).strip() for a, b in spans] == list(sample.facts)
        assert all(b0 <= a1 for (_, b0), (a1, _) in zip(spans, spans[1:], strict=False))  # in order, disjoint
        assert supporting_distance(sample, tokenizer) == len(full) - spans[max(sample.supporting)][1]


def test_distance_is_zero_when_the_supporting_fact_ends_the_input(tokenizer):
    at_0k = GeneratedSource(tokenizer, tasks="qa1", lengths="0k", samples=20, babi="generate").build("qa1", "0k")
    last = [s for s in at_0k if max(s.supporting) == len(s.facts) - 1]
    assert last and all(supporting_distance(s, tokenizer) == 0 for s in last)
    assert all(supporting_distance(s, tokenizer) > 0 for s in at_0k if s not in last)


def test_segments_back_counts_the_boundaries_between_the_fact_and_the_question(samples, tokenizer):
    """Segments of one token count every token from the fact's last to `<ans>`; one segment as long as the prompt
    counts none; in between, the boundaries of the prompt's segments; `keep_last` shifts the segments with the
    prompt read, and a dropped fact has none."""
    for sample in samples:
        prompt = encode_sample(tokenizer, sample, with_answer=False)
        question_tokens = len(prompt["input_ids"]) - 1 - prompt["question_start"]  # without <ans>
        after = supporting_distance(sample, tokenizer) + question_tokens + 1  # input, question and <ans> tokens
        assert segments_back(sample, tokenizer, 1) == after
        assert segments_back(sample, tokenizer, len(prompt["input_ids"])) == 0
        place, last = len(prompt["input_ids"]) - 1 - after, len(prompt["input_ids"]) - 1  # token indices
        for length in (8, 16, 64):
            starts = sum(1 for k in range(place + 1, last + 1) if k % length == 0)  # segments starting after the fact
            assert segments_back(sample, tokenizer, length) == starts
        assert segments_back(sample, tokenizer, 1, dropped=5) == after  # relative positions are kept
        assert segments_back(sample, tokenizer, 8, dropped=place) is None  # the fact's last token dropped
    with pytest.raises(ValueError, match="segment_length=0 must be at least 1"):
        segments_back(samples[0], tokenizer, 0)


def test_a_counterfactual_swaps_only_the_supporting_facts_label(samples, tokenizer):
    for sample in samples:
        swap = counterfactual(sample, tokenizer)
        assert swap is not None and len(swap.ids) == len(swap.other_ids)
        changed = [j for j, (a, b) in enumerate(zip(swap.ids, swap.other_ids, strict=True)) if a != b]
        start, end = fact_spans(sample, tokenizer)[max(sample.supporting)]
        assert changed[0] == swap.position and 1 + start <= changed[0] and changed[-1] < 1 + end
        assert swap.other_target in task_labels("qa1") and swap.other_target != swap.target == sample.target
        assert tokenizer.decode(swap.other_ids[swap.position : changed[-1] + 1]).strip() == swap.other_target


def _model(arch: str, **overrides) -> LM2ForCausalLM:
    torch.manual_seed(0)
    config = LM2Config(arch=arch, vocab_size=400, **{**TINY, "segment_length": 8, **overrides})
    return LM2ForCausalLM(config).double().eval()


@pytest.mark.parametrize("arch", ["lm2", "rmt", "armt"])
def test_the_memories_differ_from_the_swapped_tokens_segment_on_and_not_before(arch):
    ids = torch.randint(4, 400, (50,), generator=torch.Generator().manual_seed(1))
    other = ids.clone()
    other[21] = 3  # segment 2 of segments of 8 tokens
    model = _model(arch, initializer_range=0.2) if arch == "armt" else _model(arch)
    totals, rows = memory_difference(model, ids, other)
    assert totals.shape == (6,)  # 6 full segments of 50 tokens; the last 2 tokens are not a full segment
    assert float(totals[:2].abs().max()) <= 1e-12 and bool((totals[2:] > 1e-9).all())
    # The pair shares a batch; each stream alone gives the same memories (float64, summation orders may differ).
    alone = [model(t[None, :48], logits_to_keep=1).memory for t in (ids, other)]
    if arch == "lm2":
        assert rows.shape == (6, 8)
        torch.testing.assert_close(rows[-1], (alone[0].memory - alone[1].memory)[0].norm(dim=-1), rtol=1e-9, atol=1e-12)
        assert float(rows[2].argmax()) == 21 % 8  # the swapped token's own row moved most
    else:
        assert rows is None


def test_a_memory_that_writes_nothing_keeps_no_trace_and_full_attention_has_none_to_compare():
    # Hard gates past their edges: every input gate exactly 0 and every forget gate exactly 1, so the bank stays M_0.
    shut = _model("lm2", memory_gates="hard", input_bias=-1e3, forget_bias=1e3)
    ids = torch.arange(4, 36)
    other = ids.clone()
    other[10] = 3
    totals, _ = memory_difference(shut, ids, other)
    assert float(totals.abs().max()) == 0.0  # M_{t+1} = M_t exactly, for both inputs
    assert trace_after(totals, 10, 8) == {0: None, 1: None, 2: None}
    with pytest.raises(ValueError, match="arch='vanilla' carries no memory"):
        memory_difference(_model("vanilla"), ids, other)


def test_the_trace_is_relative_to_the_swapped_tokens_segment():
    totals = torch.tensor([0.0, 2.0, 1.0, 0.5, 0.5, 0.25], dtype=torch.float64)
    assert trace_after(totals, 9, 8, steps=(0, 1, 2, 4, 8)) == {0: 1.0, 1: 0.5, 2: 0.25, 4: 0.125}


def test_the_default_trace_follows_a_fact_to_128_later_segments_where_the_input_reaches():
    # halving every segment: k later segments leave 2**-k (exact in float64 for k <= 128)
    totals = torch.tensor([0.0] + [2.0**-k for k in range(200)], dtype=torch.float64)
    trace = trace_after(totals, 8, 8)  # the swapped token is in segment 1
    assert trace == {k: 2.0**-k for k in (0, 1, 2, 4, 8, 16, 32, 64, 128)}
    assert set(trace_after(totals[:70], 8, 8)) == {0, 1, 2, 4, 8, 16, 32, 64}  # 64 reached, 128 not


def test_accuracy_by_distance_bins_every_answer_once():
    distances, correct = [0, 5, 127, 128, 300, 900, 2000], [True, False, True, True, False, False, True]
    shortcut = [True, True, True, False, False, False, False]
    table = accuracy_by_distance(distances, correct, [128, 512], shortcut)
    assert [(r["from"], r["to"], r["samples"], r["correct"], r["last_label"]) for r in table] == [
        (0, 128, 3, 2, 1.0), (128, 512, 2, 1, 0.0), (512, None, 2, 1, 0.0)
    ]  # fmt: skip
    low, high = table[0]["interval"]
    assert low < 2 / 3 < high
    with pytest.raises(ValueError, match="increasing positive"):
        accuracy_by_distance([1], [True], [256, 128])


def test_measure_scores_each_sample_and_traces_each_counterfactual(
    samples, tokenizer, model_dir, vanilla_dir, tmp_path
):
    from lm2.integrations.pretrained import load_pretrained

    model, _ = load_pretrained(model_dir, "cpu", "auto")
    result = measure(model, tokenizer, samples, [64, 128])
    assert result["samples"] == len(samples) == len(result["records"])
    assert sum(r["samples"] for r in result["by_distance"]) == len(samples)
    assert result["accuracy"] == sum(r["correct"] for r in result["records"]) / len(samples)
    last_label = [r["last_label"] for r in result["records"]]
    in_bins = sum(r["last_label"] * r["samples"] for r in result["by_distance"] if r["samples"])
    assert in_bins == pytest.approx(sum(last_label))
    steps = result["trace"]["steps"]
    assert result["trace"]["skipped"] == 0 and steps["0"]["inputs"] == len(samples) and steps["0"]["median"] == 1.0
    length = model.config.segment_length
    assert [r["segments_back"] for r in result["records"]] == [segments_back(s, tokenizer, length) for s in samples]
    assert sum(r["samples"] for r in result["by_segments_back"]) == len(samples) and result["segment_length"] == length
    assert f"segments back ({length} tokens each)" in format_report(result, "lm2")
    assert all(row["inputs"] <= len(samples) for row in steps.values())
    vanilla, _ = load_pretrained(vanilla_dir, "cpu", "auto")
    no_trace = measure(vanilla, tokenizer, samples[:2], [64])
    assert no_trace["trace"] is None and "No memory crosses segments" in format_report(no_trace, "vanilla")
    assert plot_retention(no_trace, tmp_path / "vanilla.png", "vanilla").read_bytes()[:4] == b"\x89PNG"


def test_cli_writes_the_tables_and_refuses_bad_options(model_dir, tmp_path, capsys, caplog):
    out = tmp_path / "retention"
    argv = ["retention", str(model_dir), "--out", str(out), "--length", "200", "--samples", "3", "--babi", "generate"]
    assert main([*argv, "--bins", "50,100"]) == 0
    record = json.loads((out / "retention.json").read_text())
    assert record["bins"] == [50, 100] and record["samples"] == 3 and record["data"]["babi"] == "generate"
    assert "tokens after the supporting fact" in (out / "retention.md").read_text()
    assert (out / "retention.png").read_bytes()[:4] == b"\x89PNG"
    assert "later segments" in capsys.readouterr().out
    assert main([*argv, "--bins", "100,50"]) == 2
    assert "--bins='100,50' must be increasing" in caplog.text
    assert main([*argv, "--keep-last", "0"]) == 2
    assert "--keep-last=0 must be at least 1" in caplog.text
    assert main([*argv, "--bins", "50,100", "--samples", "4"]) == 2  # another run's folder
    assert "holds the output of another run" in caplog.text
    assert main([*argv[:3], str(tmp_path / "two"), "--task", "qa1,qa2", "--babi", "generate"]) == 2
    assert "one task and one length" in caplog.text
    assert json.loads((out / "retention.json").read_text()) == record  # refused runs leave the files alone


def test_keep_last_reads_only_the_inputs_end(samples, tokenizer, model_dir):
    from lm2.integrations.pretrained import load_pretrained

    assert keep_last([1, 10, 11, 12, 13, 7, 3], 2) == [1, 12, 13, 7, 3]  # BOS, input 10..13, question 7, <ans> 3
    model, _ = load_pretrained(model_dir, "cpu", "auto")
    whole = measure(model, tokenizer, samples, [64])
    assert measure(model, tokenizer, samples, [64], last=10_000) == {**whole, "keep_last": 10_000}
    cut = measure(model, tokenizer, samples, [64], last=60)
    assert [r["distance"] for r in cut["records"]] == [r["distance"] for r in whole["records"]]
    for sample, record in zip(samples, cut["records"], strict=True):  # the trace needs the swapped word
        inputs = len(tokenizer.encode(" " + sample.input, add_special_tokens=False))
        position = counterfactual(sample, tokenizer).position - max(0, inputs - 60)  # after BOS and the kept tokens
        assert ("trace" not in record) if position < 1 else record["trace"]["position"] == position
        if record["distance"] >= 60:  # the whole supporting fact was dropped
            assert "trace" not in record
    assert cut["trace"]["skipped"] == sum("trace" not in r for r in cut["records"])
