"""The registry of model variants that `lm2 demo`, `lm2 recall` and `lm2 bench` compare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lm2.cli.demo import STUDY_MODELS
from lm2.model.variants import DEFAULT_MODELS, VARIANTS, parse_variants, variant_config
from tests.conftest import TINY

ROOT = Path(__file__).resolve().parents[2]  # the checkout, where the study's models are shipped


def test_every_variant_builds_on_one_backbone_and_differs_only_in_its_memory():
    configs = {name: variant_config(name, TINY) for name in VARIANTS}
    assert {name: (configs[name].arch, configs[name].segment_span is None) for name in DEFAULT_MODELS} == {
        "lm2": ("lm2", False),
        "rmt": ("rmt", False),
        "armt": ("armt", False),
        "vanilla": ("vanilla", True),  # full attention over the whole input
        "vanilla-segmented": ("vanilla", False),
    }
    for config in configs.values():
        assert (config.hidden_size, config.num_hidden_layers, config.segment_length) == (32, 3, 6)


def test_the_study_lm2_is_the_shipped_one_and_its_ordered_twin_differs_only_in_the_order():
    """`lm2-hard-floor-delta-input` is the reproduction study's LM2 (act 3 evaluates its shipped model; act 2 trains
    it), field for field but for what follows the backbone; `lm2 bench overhead` with its ordered twin times the
    order's cost and nothing else."""
    study, ordered = (variant_config(name, TINY).to_dict() for name in ("lm2-hard-floor-delta-input",
                                                                        "lm2-hard-floor-sequential-input"))  # fmt: skip
    shipped = json.loads((ROOT / STUDY_MODELS["lm2"] / "config.json").read_text())
    memory = [key for key in study if key.startswith(("memory_", "forget_", "input_bias", "write_"))]
    backbone = {"memory_slots", "memory_heads", "write_penalty_warmup"}  # the slots follow the segment; no price
    assert {key: study[key] for key in memory if key not in backbone} == {
        key: shipped[key] for key in memory if key not in backbone
    }
    assert study["arch"] == shipped["arch"] == "lm2" and shipped["write_penalty"] == 0
    changed = {key: (study[key], ordered[key]) for key in study if study[key] != ordered[key]}
    assert changed == {"memory_write": ("delta", "sequential")}


def test_backbone_and_overrides_reach_the_config():
    config = variant_config("rmt", TINY, num_memory_tokens=8, vocab_size=99)
    assert (config.num_memory_tokens, config.vocab_size) == (8, 99)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"--models='' names no model; choose from lm2, "),
        ("lm2,gpt", r"--models='lm2,gpt' has unknown names \['gpt'\]; choose from lm2, .*, vanilla"),
        ("rmt,lm2,rmt", r"--models='rmt,lm2,rmt' names rmt more than once"),
    ],
)
def test_parse_errors_name_the_option_the_value_and_the_choices(text, message):
    with pytest.raises(ValueError, match=message):
        parse_variants(text)


def test_parse_keeps_the_order_given():
    assert parse_variants(" vanilla , lm2", "--models") == ["vanilla", "lm2"]


def test_an_unknown_variant_is_named():
    with pytest.raises(ValueError, match="model variant 'transformer-xl' is not known; choose from lm2, "):
        variant_config("transformer-xl", TINY)


def test_lm2_is_the_variant_the_ladder_chose_and_lm2_paper_the_paper():
    """docs/memory.md "Stage 11" made `lm2-hard-floor-write0.1-warm` LM2Config's default (stage 24 moved it to the
    split read, stage 26 back): `lm2` and that name are the same model field for field, and `lm2-paper` states
    every memory field of the paper's preset."""
    from lm2.model.config import MEMORY_PRESETS

    assert variant_config("lm2", TINY).to_dict() == variant_config("lm2-hard-floor-write0.1-warm", TINY).to_dict()
    paper = variant_config("lm2-paper", TINY)
    assert {field: getattr(paper, field) for field in MEMORY_PRESETS["paper"]} == MEMORY_PRESETS["paper"]
