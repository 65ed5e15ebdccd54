"""Memory ablations (`lm2.evaluation.ablate`, `lm2 ablate`): the carry cut is exactly "no memory across
segments", the gain switch is exact, the table compares only the ablated lengths, and the command writes one
evaluation per variant beside the unablated model's."""

from __future__ import annotations

import pytest
import torch

from lm2 import LM2Config, LM2ForCausalLM
from lm2.cli.main import main
from lm2.evaluation import GeneratedSource, evaluate
from lm2.evaluation.ablate import ablated_model, cut_carry, memory_off, restrict
from tests.evaluation.test_evaluation_report import _results


def _tiny(seed: int = 0) -> LM2ForCausalLM:
    torch.manual_seed(seed)
    config = LM2Config(arch="lm2", vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, segment_length=8)  # fmt: skip
    return LM2ForCausalLM(config).double().eval()


def test_ablation_table_compares_only_the_ablated_lengths():
    results = _results({("qa1", "0k"): 0.5, ("qa1", "4k"): 0.3, ("qa2", "8k"): 0.2})
    kept = restrict(results, ["0k", "8k"])
    assert kept["lengths"] == ["0k", "8k"] and kept["cells"] == {"qa1": {"0k": kept["cells"]["qa1"]["0k"]},
                                                                 "qa2": {"8k": kept["cells"]["qa2"]["8k"]}}  # fmt: skip
    with pytest.raises(ValueError, match="was not evaluated at 2k"):
        restrict(_results({("qa1", "0k"): 0.5}), ["0k", "2k"])


def test_carry_cut_runs_every_segment_from_a_fresh_bank():
    model, cut = _tiny(), cut_carry(_tiny())
    ids = torch.randint(4, 64, (2, 20))
    with torch.no_grad():
        whole, logits = model(ids).logits, cut(ids).logits
        # The first segment is untouched (computed by another instance: equal to fp64 rounding, not bitwise).
        torch.testing.assert_close(logits[:, :8], whole[:, :8], rtol=0, atol=1e-12)
        assert not torch.allclose(logits[:, 8:], whole[:, 8:])  # the trained model carries something
        for start in (8, 16):  # later segments: as if each were the whole input
            torch.testing.assert_close(logits[:, start : start + 8], model(ids[:, start : start + 8]).logits)
        state, pieces = None, []
        for t in range(0, 20, 3):  # streamed in pieces that straddle the boundaries: the same
            out = cut(ids[:, t : t + 3], memory=state)
            state, pieces = out.memory, [*pieces, out.logits]
        torch.testing.assert_close(torch.cat(pieces, 1), logits)


def test_memory_off_is_exact_and_switches_the_read_off(tmp_path):
    model = _tiny()
    model.to(torch.float32).save_pretrained(tmp_path)
    ids = torch.randint(4, 64, (1, 20))
    with torch.no_grad():
        reference = model.double()(ids).logits
        torch.testing.assert_close(memory_off(tmp_path, []).double()(ids).logits, reference)
        off = memory_off(tmp_path)  # every block
        assert all(float(layer.memory.gain.abs().sum()) == 0 for layer in off.model.layers)  # zero_(): exact
        assert not torch.allclose(off.double()(ids).logits, reference)
        one = ablated_model(tmp_path, "memory-off-block1")
        assert [float(layer.memory.gain.abs().sum()) == 0 for layer in one.model.layers] == [False, True]
    with pytest.raises(ValueError, match="has blocks 0..1"):
        ablated_model(tmp_path, "memory-off-block2")


def test_lm2_ablate_evaluates_each_variant_beside_the_trained_model(model_dir, tokenizer, tmp_path, capsys):
    spec = {"tasks": ["qa1"], "lengths": ["0k", "60"], "samples": 4, "seed": 0, "babi": "generate",
            "haystack": "prose"}  # fmt: skip
    evaluate(LM2ForCausalLM.from_pretrained(model_dir).eval(), tokenizer, GeneratedSource(tokenizer, **spec),
             tmp_path / "trained", model_path=model_dir)  # fmt: skip
    out = tmp_path / "ablations"
    argv = ["ablate", str(model_dir), "--out", str(out), "--variants", "carry-cut,memory-off", "--tasks", "qa1",
            "--lengths", "60", "--samples", "4", "--babi", "generate", "--haystack", "prose",
            "--reference", str(tmp_path / "trained")]  # fmt: skip
    assert main(argv) == 0
    table = (out / "ablations.md").read_text()
    assert table in capsys.readouterr().out
    assert (
        [line.split("|")[2].strip() for line in table.splitlines() if line.startswith("| 60 |")] == ["lm2 (trained)"]
        and "| carry-cut |" in table
        and "| memory-off |" in table
        and "| 0k |" not in table
    )
    for variant in ("carry-cut", "memory-off"):
        assert (out / variant / "results.json").exists()


def test_lm2_ablate_refuses_unknown_variants_before_evaluating(model_dir, tmp_path, caplog):
    argv = ["ablate", str(model_dir), "--out", str(tmp_path / "out"), "--variants", "carry-cut,memory-of",
            "--babi", "generate", "--haystack", "prose"]  # fmt: skip
    assert main(argv) == 2
    assert "unknown ablation 'memory-of'" in caplog.text and not (tmp_path / "out" / "carry-cut").exists()
