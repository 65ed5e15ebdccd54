"""The reproduction study (docs/reproduction.md): its target check, its memory ablations (the carry cut is
exactly "no memory across segments", the gain switch is exact), and the three shipped models: small,
loadable with their tokenizer, and giving again the answers recorded in results/repro/ on real bAbI test data."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from lm2 import LM2Config, LM2ForCausalLM
from lm2.data import load_tokenizer
from lm2.data.paths import data_dir
from lm2.evaluation import GeneratedSource, evaluate, load_results, read_csv
from tests.evaluation.test_evaluation_report import _results
from tests.integrations.tiny_checkpoint import save_tiny_checkpoint, tiny_tokenizer

ROOT = Path(__file__).resolve().parents[2]
REPRO = ROOT / "results" / "repro"
SHIPPED = sorted(p.parent.parent.relative_to(REPRO).as_posix() for p in REPRO.glob("**/model/config.json"))
NOT_SHIPPED = "no models under results/repro/ (scripts/reproduce.sh puts them in <arch>/model)"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _tiny(seed: int = 0) -> LM2ForCausalLM:
    torch.manual_seed(seed)
    config = LM2Config(arch="lm2", vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, segment_length=8)  # fmt: skip
    return LM2ForCausalLM(config).double().eval()


def test_targets_compare_the_long_length_means():
    report = _script("repro_report")
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
    report = _script("repro_report")
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


def test_bank_drift_records_the_bank_after_every_segment(tmp_path):
    drift = _script("repro_drift")
    model = save_tiny_checkpoint(tmp_path / "model", "lm2").eval()
    text = tmp_path / "book.txt"
    text.write_text("The old ship sailed along the quiet river while the children watched. " * 20)
    record = drift.drift(tmp_path / "model", text, 30)
    assert record["segment_length"] == 8 and record["tokens"] == [0, 8, 16, 24, 30]
    assert record["mean"][0] == pytest.approx(1.0)  # M_0: unit rows
    tokenizer = tiny_tokenizer()
    ids = tokenizer(text.read_text(), add_special_tokens=False)["input_ids"][:29]
    with torch.no_grad():  # the whole input in one call ends in the bank recorded after the last segment
        bank = model(torch.tensor([[tokenizer.bos_token_id, *ids]]).to(torch.long)).memory.memory[0]
    assert record["mean"][-1] == pytest.approx(bank.norm(dim=-1).mean().item(), rel=1e-4)
    assert drift.at_tokens(record, 7) == 1.0 and drift.at_tokens(record, 20) == record["mean"][2]


def test_ablation_table_compares_only_the_ablated_lengths():
    ablate = _script("repro_ablate")
    results = _results({("qa1", "0k"): 0.5, ("qa1", "4k"): 0.3, ("qa2", "8k"): 0.2})
    kept = ablate.restrict(results, ["0k", "8k"])
    assert kept["lengths"] == ["0k", "8k"] and kept["cells"] == {"qa1": {"0k": kept["cells"]["qa1"]["0k"]},
                                                                 "qa2": {"8k": kept["cells"]["qa2"]["8k"]}}  # fmt: skip
    with pytest.raises(SystemExit, match="was not evaluated at 2k"):
        ablate.restrict(_results({("qa1", "0k"): 0.5}), ["0k", "2k"])


def test_carry_cut_runs_every_segment_from_a_fresh_bank():
    ablate = _script("repro_ablate")
    model, cut = _tiny(), ablate.cut_carry(_tiny())
    ids = torch.randint(4, 64, (2, 20))
    with torch.no_grad():
        whole, logits = model(ids).logits, cut(ids).logits
        assert torch.equal(logits[:, :8], whole[:, :8])  # the first segment is untouched
        assert not torch.allclose(logits[:, 8:], whole[:, 8:])  # the trained model carries something
        for start in (8, 16):  # later segments: as if each were the whole input
            torch.testing.assert_close(logits[:, start : start + 8], model(ids[:, start : start + 8]).logits)
        state, pieces = None, []
        for t in range(0, 20, 3):  # streamed in pieces that straddle the boundaries: the same
            out = cut(ids[:, t : t + 3], memory=state)
            state, pieces = out.memory, [*pieces, out.logits]
        torch.testing.assert_close(torch.cat(pieces, 1), logits)


def test_memory_off_is_exact_and_switches_the_read_off(tmp_path):
    ablate = _script("repro_ablate")
    model = _tiny()
    model.to(torch.float32).save_pretrained(tmp_path)
    ids = torch.randint(4, 64, (1, 20))
    with torch.no_grad():
        reference = model.double()(ids).logits
        torch.testing.assert_close(ablate.memory_off(tmp_path, []).double()(ids).logits, reference)
        off = ablate.memory_off(tmp_path, [0, 1])
        assert all(float(layer.memory.gain.abs().sum()) == 0 for layer in off.model.layers)
        assert not torch.allclose(off.double()(ids).logits, reference)


@pytest.mark.skipif(not SHIPPED, reason=NOT_SHIPPED)
@pytest.mark.parametrize("arch", SHIPPED)
def test_shipped_model_is_small_and_loads_with_its_tokenizer(arch):
    folder = REPRO / arch / "model"
    size = sum(f.stat().st_size for f in folder.iterdir())
    assert size < 20 * 2**20, f"{folder} is {size / 2**20:.1f} MB"
    model = LM2ForCausalLM.from_pretrained(folder)
    assert model.config.arch == Path(arch).name.split("-")[0]  # lm2, rmt, vanilla; ablations/lm2-bank16
    assert load_tokenizer(folder).convert_tokens_to_ids("<ans>") == 3


@pytest.mark.skipif(not SHIPPED, reason=NOT_SHIPPED)
@pytest.mark.skipif(data_dir() is None, reason="no shared data folder (set LM2_DATA_DIR to ../shared/data)")
@pytest.mark.parametrize("arch", SHIPPED)
def test_shipped_model_gives_the_recorded_answers(arch, tmp_path):
    folder, recorded = REPRO / arch / "model", REPRO / arch / "eval"
    model, tokenizer = LM2ForCausalLM.from_pretrained(folder).eval(), load_tokenizer(folder)
    root = data_dir()
    source = GeneratedSource(tokenizer, tasks=["qa1"], lengths=["0k"], samples=100, seed=0, babi=root / "babi",
                             haystack=root / "haystack" / "dev")  # fmt: skip
    torch.set_num_threads(2)
    results = evaluate(model, tokenizer, source, tmp_path, model_path=folder)
    name = "qa1_0k_instruction_no_examples_no_post_prompt_no.csv"
    assert read_csv(tmp_path / name) == read_csv(recorded / name)
    assert results["cells"]["qa1"]["0k"]["accuracy"] == load_results(recorded)["cells"]["qa1"]["0k"]["accuracy"]
