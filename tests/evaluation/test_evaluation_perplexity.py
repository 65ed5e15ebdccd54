"""Held-out perplexity at several context lengths (`lm2.evaluation.perplexity`, `lm2 perplexity`): the chunked
read computes what one call computes, every length scores the same tokens, a memory-less model of the same
span gets the same perplexity at every length, and the results folder resumes and refuses other data."""

from __future__ import annotations

import json
import math

import pytest
import torch

from lm2.cli.main import main
from lm2.evaluation import perplexity as ppl
from tests.conftest import VARIANT_IDS, VARIANTS, random_ids, tiny_model
from tests.evaluation.conftest import save_model


@pytest.mark.parametrize(("arch", "overrides"), VARIANTS, ids=VARIANT_IDS)
def test_chunked_losses_equal_one_call_and_the_cross_entropy(arch, overrides):
    model = tiny_model(arch, **overrides)
    ids = random_ids(2, 25)
    with torch.no_grad():
        logits = model(ids).logits
    direct = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1),
                                               reduction="none").view(2, 24)  # fmt: skip
    for chunk in (25, 7, 6, 1):  # whole, across segment boundaries, on them, one token at a time
        losses = ppl.token_losses(model, ids, chunk)
        assert losses[:, 0].isnan().all()
        torch.testing.assert_close(losses[:, 1:], direct.float(), rtol=1e-5, atol=1e-6)


def test_every_context_scores_the_same_tokens_with_the_loss_they_have_in_their_window():
    model = tiny_model("lm2")
    documents = [random_ids(1, 100, seed=3)[0].tolist(), random_ids(1, 50, seed=4)[0].tolist()]
    found = ppl.context_perplexity(model, documents, [12, 24, 48], chunk=10, bucket=12)
    # spans of 48: two from the first document, one from the second; each less the 4 window starts of 12
    assert {r["tokens"] for r in found.values()} == {3 * (48 - 4)}
    for context, record in found.items():
        rows = ppl.spans(documents, 48).view(-1, context)
        losses = torch.cat([ppl.token_losses(model, row[None], context) for row in rows]).view(3, 48)
        manual = losses[:, torch.arange(48) % 12 != 0].double().mean().item()
        assert record["loss"] == pytest.approx(manual, rel=1e-9) and record["perplexity"] == pytest.approx(
            math.exp(manual)
        )
        assert len(record["position_loss"]) == context // 12 and record["windows"] == 3 * 48 // context
    assert found[12]["loss"] != pytest.approx(found[48]["loss"], rel=1e-6)  # LM2 reads the earlier windows' text


def test_a_memoryless_model_of_the_same_span_gets_the_same_perplexity_at_every_context():
    """vanilla-segmented sees only its own segment (6 tokens): windows of 12, 24 and 48 tokens start on segment
    boundaries, so every scored token has the same context at every length."""
    model = tiny_model("vanilla", vanilla_mode="segmented")
    documents = [random_ids(1, 96, seed=5)[0].tolist()]
    found = ppl.context_perplexity(model, documents, [12, 24, 48])
    assert found[12]["loss"] == pytest.approx(found[24]["loss"], rel=1e-9) == pytest.approx(found[48]["loss"], rel=1e-9)


@pytest.mark.parametrize(
    ("contexts", "message"),
    [([12, 20], r"each must divide the longest \(20\)"), ([1, 4], "at least 2"), ([], "at least 2")],
)
def test_bad_contexts_are_named(contexts, message):
    with pytest.raises(ValueError, match=message):
        ppl.check_contexts(contexts)


def test_documents_shorter_than_the_longest_context_are_an_error():
    with pytest.raises(ValueError, match="no document has 48 tokens.*the longest has 20"):
        ppl.spans([[5] * 20], 48)


def test_results_resume_and_refuse_another_text(tmp_path, tokenizer, monkeypatch):
    model = tiny_model("lm2", vocab_size=len(tokenizer), dtype=torch.float32)
    texts = {"book": "Mary went to the kitchen. John moved to the garden. " * 40}
    first = ppl.run_perplexity(model, tokenizer, texts, [32, 64], tmp_path)
    assert set(first["contexts"]) == {"32", "64"} and json.loads((tmp_path / ppl.RESULTS_FILE).read_text()) == first

    def fail(*args, **kwargs):
        raise AssertionError("a finished context was computed again")

    monkeypatch.setattr(ppl, "token_losses", fail)
    assert ppl.run_perplexity(model, tokenizer, texts, [32, 64], tmp_path)["contexts"] == first["contexts"]
    with pytest.raises(ValueError, match="holds another evaluation \\(documents"):
        ppl.run_perplexity(model, tokenizer, {"book": texts["book"] + " More."}, [32, 64], tmp_path)


def test_cli_prints_the_table_and_names_bad_contexts(tmp_path, tokenizer, capsys, caplog):
    model_dir = save_model(tmp_path / "model", tokenizer)
    books = tmp_path / "books"
    books.mkdir()
    (books / "a.txt").write_text("The cat sat on the mat and looked at the garden. " * 60)
    out = tmp_path / "ppl"
    argv = [
        "perplexity",
        str(model_dir),
        "--text",
        str(books),
        "--out",
        str(out),
        "--contexts",
        "64,128",
        "--threads",
        "1",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| model | parameters | 64 context | 128 context |" in printed and (out / "perplexity.json").is_file()
    assert main([*argv[:-4], "--contexts", "64,100"]) == 2
    assert "--contexts='64,100'" in caplog.text and "each must divide the longest (100)" in caplog.text
    assert main(["perplexity", str(model_dir), "--text", str(tmp_path / "none"), "--out", str(out)]) == 2
    assert "no such file or folder" in caplog.text
