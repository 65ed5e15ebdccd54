"""The reproduction study's shipped models (docs/reproduction.md): small, loadable with their tokenizer, and
giving again the answers recorded in results/repro/ on real bAbI test data. (Its report, ablations and bank
drift are library code with their own tests: test_evaluation_reproduction.py, test_evaluation_ablate.py,
tests/analysis/test_analysis_drift.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lm2 import LM2ForCausalLM
from lm2.data import load_tokenizer
from lm2.data.paths import data_dir
from lm2.evaluation import GeneratedSource, evaluate, load_results, read_csv

ROOT = Path(__file__).resolve().parents[2]
REPRO = ROOT / "results" / "repro"
SHIPPED = sorted(p.parent.parent.relative_to(REPRO).as_posix() for p in REPRO.glob("**/model/config.json"))
NOT_SHIPPED = "no models under results/repro/ (the reproduction study, docs/reproduction.md, puts them in <arch>/model)"


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


# Study 2 (`lm2 reproduce`): the pretrained and fine-tuned models under results/reproduction/models/.
STUDY2 = ROOT / "results" / "reproduction"
SHIPPED2 = sorted(p.parent.parent.relative_to(STUDY2 / "models").as_posix()
                  for p in (STUDY2 / "models").glob("*/*/model/config.json"))  # fmt: skip
FINETUNED2 = [name for name in SHIPPED2 if name.startswith("qa1/")]


@pytest.mark.skipif(not SHIPPED2, reason="no models under results/reproduction/models/ (lm2 reproduce puts them there)")
@pytest.mark.parametrize("name", SHIPPED2)
def test_study2_model_is_small_loads_with_its_tokenizer_and_is_its_variant(name):
    folder = STUDY2 / "models" / name / "model"
    size = sum(f.stat().st_size for f in folder.iterdir())
    assert size < 20 * 2**20, f"{folder} is {size / 2**20:.1f} MB"
    model = LM2ForCausalLM.from_pretrained(folder)
    variant = Path(name).name.split("-seed")[0]
    assert model.config.arch == variant.split("-")[0]  # lm2, lm2-paper, rmt, armt, vanilla, vanilla-segmented
    if variant.startswith("vanilla"):
        assert model.config.vanilla_mode == ("segmented" if variant.endswith("segmented") else "full")
    assert load_tokenizer(folder).convert_tokens_to_ids("<ans>") == 3


@pytest.mark.skipif(not FINETUNED2, reason="no fine-tuned models under results/reproduction/models/qa1/")
@pytest.mark.skipif(data_dir() is None, reason="no shared data folder (set LM2_DATA_DIR to ../shared/data)")
@pytest.mark.parametrize("name", FINETUNED2)
def test_study2_model_gives_the_recorded_answers_at_0k(name, tmp_path):
    """The 0k cell has no background, so the real bAbI test questions alone rebuild its prompts."""
    folder, recorded = STUDY2 / "models" / name / "model", STUDY2 / "eval" / name
    if not (recorded / "results.json").is_file():
        pytest.skip(f"{recorded} not evaluated yet")
    model, tokenizer = LM2ForCausalLM.from_pretrained(folder).eval(), load_tokenizer(folder)
    source = GeneratedSource(tokenizer, tasks=["qa1"], lengths=["0k"], samples=100, seed=0, babi=data_dir() / "babi")
    results = evaluate(model, tokenizer, source, tmp_path, model_path=folder)
    csv = "qa1_0k_instruction_no_examples_no_post_prompt_no.csv"
    assert read_csv(tmp_path / csv) == read_csv(recorded / csv)
    assert results["cells"]["qa1"]["0k"]["accuracy"] == load_results(recorded)["cells"]["qa1"]["0k"]["accuracy"]
