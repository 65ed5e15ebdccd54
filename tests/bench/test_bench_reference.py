"""`lm2 bench reference`: our vanilla and transformers' Llama hold the same weights, agree on logits and
greedy tokens, and both get timed."""

from __future__ import annotations

import json

import torch

from lm2.bench.reference import reference_pair
from lm2.cli.main import main


def test_reference_pair_shares_weights_and_logits():
    shape = dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2)  # fmt: skip
    llama, ours = reference_pair(shape)
    ids = torch.randint(4, 64, (2, 40))
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(ids).logits, llama.eval()(ids).logits, atol=1e-5, rtol=0)


def test_reference_quick_run(tmp_path, capsys):
    out = tmp_path / "reference.json"
    assert main(["bench", "reference", "--quick", "--json", str(out)]) == 0
    assert "cached generation" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["logits_max_abs_diff"] < 1e-4 and result["same_generated_tokens"] is True
    assert set(result["tasks"]) == {"forward_backward", "generate_batch_1", "generate_batch_4"}
    for task in result["tasks"]:
        row = result["tasks"][task]
        assert row["ratio"] > 0 and isinstance(row["target_met"], bool)
        assert row["transformers"]["tokens_per_s"] > 0 and row["lm2 vanilla"]["tokens_per_s"] > 0
