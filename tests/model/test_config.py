"""Bad configurations and bad inputs raise `ValueError` naming the field, the value and what is allowed."""

from __future__ import annotations

import json

import pytest
import torch

from lm2 import LM2Config, LM2ForCausalLM
from tests.conftest import TINY, random_ids, tiny_model


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"arch": "mamba"}, "arch='mamba' is not allowed; choose one of 'lm2', 'rmt', 'armt', 'vanilla'"),
        ({"memory_slots": 8}, "memory_slots=8 must equal segment_length=6"),
        ({"num_attention_heads": 5}, "num_attention_heads=5 must divide hidden_size=32"),
        ({"num_key_value_heads": 3}, "num_key_value_heads=3 must divide num_attention_heads=4"),
        ({"memory_heads": 3}, "memory_heads=3 must divide hidden_size=32"),
        ({"memory_layers": [0, 3]}, "memory_layers=[0, 3] has out-of-range blocks [3]; allowed: 0..2"),
        ({"memory_layers": []}, "memory_layers=[] gives lm2 no memory"),
        ({"memory_query": "keys"}, "memory_query='keys' is not allowed; choose one of 'input', 'attention'"),
        ({"memory_output": "x"}, "memory_output='x' is not allowed"),
        ({"segment_length": 0}, "segment_length=0 must be a positive integer"),
        ({"segment_length": None}, "segment_length=None is only allowed for arch='vanilla'"),
        ({"bptt_segments": -1}, "bptt_segments=-1 must be >= 0"),
        ({"arch": "rmt", "num_memory_tokens": 0}, "num_memory_tokens=0 must be a positive integer"),
        ({"vanilla_mode": "chunked"}, "vanilla_mode='chunked' is not allowed"),
        ({"embedding_init_std": 0.0}, "embedding_init_std=0.0 must be > 0"),
        ({"rope_parameters": {"rope_type": "dynamic", "rope_theta": 1e4, "factor": 2.0}}, "nothing to scale with"),
        ({"arch": "vanilla", "segment_length": None, "max_position_embeddings": 0}, "max_position_embeddings=0 must"),
    ],
)
def test_bad_config_raises_at_construction(overrides, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        LM2Config(**{**TINY, **overrides})


def test_vanilla_full_needs_no_segment_length():
    assert LM2Config(**{**TINY, "arch": "vanilla", "segment_length": None}).segment_span is None


@pytest.mark.parametrize(
    ("arch", "mode", "maximum"),
    [("lm2", "full", None), ("rmt", "full", None), ("vanilla", "segmented", None), ("vanilla", "full", 2048)],
)
def test_only_full_attention_has_a_maximum_length(tmp_path, arch, mode, maximum):
    """Segmented models have no maximum length (`generate` reads `max_position_embeddings`), also when an
    older saved config states 2048; full attention keeps the stated value."""
    config = LM2Config(**{**TINY, "arch": arch, "vanilla_mode": mode})
    assert config.max_position_embeddings == maximum
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**saved, "max_position_embeddings": 2048}))  # an old save
    assert LM2Config.from_pretrained(tmp_path).max_position_embeddings == maximum


def test_config_round_trips_through_json(tmp_path):
    cfg = LM2Config(**{**TINY, "memory_layers": [2, 0], "memory_output": "read"})
    cfg.save_pretrained(tmp_path)
    again = LM2Config.from_pretrained(tmp_path)
    assert again.memory_layers == [0, 2] and again.memory_output == "read" and again.memory_slots == 6


@pytest.mark.parametrize(
    ("make_input", "message"),
    [
        (lambda: torch.tensor([[4, 50]]), "token id 50; allowed ids are 0..49"),
        (lambda: torch.tensor([[-1, 4]]), "token id -1; allowed ids are 0..49"),
        (lambda: torch.zeros(1, 0, dtype=torch.long), "input_ids is empty"),
        (lambda: torch.tensor([4, 5]), r"must be a \(batch, length\) tensor"),
        (lambda: torch.tensor([[4.0, 5.0]]), "must hold integer token ids"),
    ],
)
def test_bad_input_ids_raise(make_input, message):
    with pytest.raises(ValueError, match=message):
        tiny_model("lm2")(make_input())


def test_bad_attention_mask_and_labels_raise():
    model, ids = tiny_model("lm2"), random_ids(2, 5)
    with pytest.raises(ValueError, match=r"attention_mask has shape \(2, 4\), input_ids has \(2, 5\)"):
        model(ids, attention_mask=torch.ones(2, 4))
    with pytest.raises(ValueError, match="attention_mask marks no token as real"):
        model(ids, attention_mask=torch.zeros(2, 5))
    with pytest.raises(ValueError, match="labels need all logits"):
        model(ids, labels=ids, logits_to_keep=1)
    with pytest.raises(ValueError, match="unsupported forward arguments"):
        model(ids, position_ids=torch.arange(5)[None])


def test_foreign_memory_state_raises():
    model = tiny_model("lm2")
    state = model(random_ids(2, 4)).memory
    with pytest.raises(ValueError, match="memory has batch size 2, input_ids has batch size 3"):
        model(random_ids(3, 4), memory=state)
    wider = tiny_model("lm2", segment_length=8)
    with pytest.raises(ValueError, match=r"memory.memory has shape \(2, 6, 32\), this model needs \(2, 8, 32\)"):
        wider(random_ids(2, 4), memory=state)
    with pytest.raises(ValueError, match="memory comes from arch='lm2', this model is arch='rmt'"):
        tiny_model("rmt")(random_ids(2, 4), memory=state)
    deeper = tiny_model("lm2", num_hidden_layers=4)
    with pytest.raises(ValueError, match="memory has caches for 3 blocks, this model has 4"):
        deeper(random_ids(2, 4), memory=state)
    with pytest.raises(ValueError, match="must be a MemoryState"):
        model(random_ids(2, 4), memory=state.memory)


def test_embedding_init_std_scales_only_the_token_embedding():
    """`embedding_init_std` sets the std of the token embeddings (padding row zero) and nothing else."""
    torch.manual_seed(0)
    wide = LM2ForCausalLM(LM2Config(**{**TINY, "vocab_size": 512, "embedding_init_std": 1.0}))
    torch.manual_seed(0)
    default = LM2ForCausalLM(LM2Config(**{**TINY, "vocab_size": 512}))
    emb = wide.model.embed_tokens.weight.detach()
    assert 0.9 < float(emb[1:].std()) < 1.1 and float(emb[0].abs().max()) == 0.0  # zeroed, not computed
    assert abs(float(default.model.embed_tokens.weight.detach()[1:].std()) - 0.02) < 0.005
    for name, weight in wide.named_parameters():  # every other matrix keeps initializer_range
        if weight.dim() == 2 and "embed_tokens" not in name and "memory" not in name:
            assert abs(float(weight.detach().std()) - 0.02) < 0.005, name


def test_memory_preset_sets_the_paper_equations_and_refuses_a_conflict():
    paper = LM2Config(memory_preset="paper", segment_length=8)
    assert (paper.memory_update, paper.memory_read_norm, paper.forget_bias, paper.input_bias) == (
        "paper",
        False,
        1.0,
        0.0,
    )
    with pytest.raises(ValueError, match=r"memory_preset='paper' sets forget_bias=1.0, but forget_bias=2.0 was given"):
        LM2Config(memory_preset="paper", forget_bias=2.0)
    with pytest.raises(ValueError, match=r"memory_preset='stable-ish' is not allowed; choose one of 'paper'"):
        LM2Config(memory_preset="stable-ish")


def test_memory_preset_refuses_a_conflicting_field_given_with_its_default_value():
    """A field passed explicitly conflicts with the preset even when it equals LM2Config's default (True is the
    default read norm): the preset must not silently replace what the caller wrote."""
    assert LM2Config().memory_read_norm is True and LM2Config().forget_floor == 0.999
    with pytest.raises(ValueError, match=r"sets memory_read_norm=False, but memory_read_norm=True was given"):
        LM2Config(memory_preset="paper", memory_read_norm=True)
    with pytest.raises(ValueError, match=r"sets forget_floor=0.0, but forget_floor=0.999 was given"):
        LM2Config(memory_preset="paper", forget_floor=0.999)
    # the preset's own values, given explicitly, agree; a saved preset config reloads as it was
    agree = LM2Config(memory_preset="paper", memory_read_norm=False, forget_floor=0.0)
    assert LM2Config.from_dict(agree.to_dict()).to_dict() == agree.to_dict()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("memory_update", "sum", r"memory_update='sum' is not allowed; choose one of 'paper', 'mean', 'delta'"),
        ("memory_read_norm", "yes", r"memory_read_norm='yes' must be true or false"),
        ("memory_read_center", 1, r"memory_read_center=1 must be true, false, 'keys' \(the keys only\), .* 'gated'"),
        ("memory_read_center", "values", r"memory_read_center='values' must be true, false, 'keys'"),
        ("memory_read_center_fraction", True, r"memory_read_center_fraction=True must be a finite number or None"),
        ("memory_read_center_fraction", float("nan"), r"memory_read_center_fraction=nan must be a finite number"),
        ("input_bias", "low", r"input_bias='low' must be a finite number"),
        ("forget_bias", float("nan"), r"forget_bias=nan must be a finite number"),
        ("memory_gates", "relu", r"memory_gates='relu' is not allowed; choose one of 'sigmoid', 'hard'"),
        ("forget_floor", 1.0, r"forget_floor=1.0 must be in \[0, 1\)"),
        ("forget_floor", -0.1, r"forget_floor=-0.1 must be in \[0, 1\)"),
        ("forget_floor", "high", r"forget_floor='high' must be a finite number"),
        ("write_penalty", -0.1, r"write_penalty=-0.1 must be >= 0 \(0: no write cost\)"),
        ("write_penalty", float("inf"), r"write_penalty=inf must be a finite number"),
        ("memory_candidate", "token", r"memory_candidate='token' is not allowed; choose one of 'read', 'input'"),
        (
            "memory_write",
            "keys",
            r"memory_write='keys' is not allowed; choose one of 'rows', 'addressed', 'delta', 'sequential'",
        ),
    ],
)
def test_bad_memory_variant_fields_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        LM2Config(**{field: value})


def test_a_learned_centring_refuses_the_fixed_one_and_the_paper_preset():
    for fixed in (True, "keys", "split", "gated"):
        with pytest.raises(ValueError, match=rf"memory_read_center_fraction=0.0 learns a centring, but .*={fixed!r}"):
            LM2Config(memory_read_center_fraction=0.0, memory_read_center=fixed)
    with pytest.raises(ValueError, match=r"sets memory_read_center_fraction=None, but memory_read_center_fraction=0"):
        LM2Config(memory_preset="paper", memory_read_center=False, memory_read_center_fraction=0.0)


def test_the_addressed_write_refuses_what_needs_a_row_per_token_or_a_special_first_block():
    with pytest.raises(ValueError, match=r"memory_write='addressed' needs memory_output='read'.*memory_output='bank'"):
        LM2Config(memory_write="addressed", memory_output="bank")
    for center, fraction in (("split", None), (True, None), (False, 0.0)):
        with pytest.raises(ValueError, match=r"memory_write='addressed' reads the bank .* memory_read_center=False"):
            LM2Config(
                memory_write="addressed",
                memory_output="read",
                memory_read_center=center,
                memory_read_center_fraction=fraction,
            )
    assert LM2Config(memory_write="addressed", memory_output="read").memory_write == "addressed"
    with pytest.raises(ValueError, match=r"memory_write='delta' needs memory_output='read'.*memory_output='bank'"):
        LM2Config(memory_write="delta", memory_output="bank")
    with pytest.raises(ValueError, match=r"memory_write='delta' reads the bank .* memory_read_center=False"):
        LM2Config(memory_write="delta", memory_output="read", memory_read_center="split")
    with pytest.raises(ValueError, match=r"memory_preset='paper' sets memory_write='rows'"):
        LM2Config(memory_preset="paper", memory_write="addressed", memory_output="read")


def test_the_cosine_address_needs_an_addressed_write_and_a_positive_strength():
    with pytest.raises(ValueError, match=r"memory_address='cosine' needs an addressed write .*memory_write='rows'"):
        LM2Config(memory_address="cosine")
    with pytest.raises(
        ValueError, match=r"memory_address='soft' is not allowed; choose one of 'dot', 'cosine', 'slots'"
    ):
        LM2Config(memory_write="delta", memory_output="read", memory_address="soft")
    for bad in (0.0, -1.0, float("inf"), float("nan"), True, "10"):
        with pytest.raises(ValueError, match=r"memory_address_strength=.* must be a finite number > 0"):
            LM2Config(memory_write="delta", memory_output="read", memory_address="cosine", memory_address_strength=bad)
    with pytest.raises(ValueError, match=r"memory_preset='paper' sets memory_address='dot'"):
        LM2Config(memory_preset="paper", memory_address="cosine")
    chosen = LM2Config(memory_write="addressed", memory_output="read", memory_address="cosine")
    assert LM2Config.from_dict(chosen.to_diff_dict()).memory_address == "cosine"
    with pytest.raises(ValueError, match=r"memory_address='slots' needs an addressed write .*memory_write='rows'"):
        LM2Config(memory_address="slots")


def test_the_row_clip_is_a_flag_of_the_delta_write_only():
    for write in ("rows", "addressed"):
        with pytest.raises(ValueError, match=rf"memory_row_clip=True needs memory_write='delta'.*'{write}'"):
            LM2Config(memory_write=write, memory_output="read", memory_row_clip=True)
    with pytest.raises(ValueError, match=r"memory_row_clip=1 must be true or false"):
        LM2Config(memory_write="delta", memory_output="read", memory_row_clip=1)
    clipped = LM2Config(memory_write="delta", memory_output="read", memory_row_clip=True)
    assert LM2Config.from_dict(clipped.to_diff_dict()).memory_row_clip is True
    assert LM2Config(memory_write="sequential", memory_output="read", memory_row_clip=True).memory_row_clip is True


def test_the_paper_preset_has_no_write_penalty():
    with pytest.raises(ValueError, match=r"memory_preset='paper' sets write_penalty=0.0, but write_penalty=0.5"):
        LM2Config(memory_preset="paper", write_penalty=0.5)


def test_a_config_saved_before_the_memory_variants_loads_the_paper_equations(tmp_path):
    """Configs written before `memory_update` existed hold no memory-variant keys; whatever the defaults
    become, they load as the model they were trained as (the paper's equations)."""
    saved = LM2Config(segment_length=8, hidden_size=32, num_attention_heads=4).to_dict()
    for key in ("memory_update", "memory_read_norm", "input_bias", "memory_preset"):
        saved.pop(key)
    saved["forget_bias"] = 2.0  # a stated field wins over the legacy fill
    (tmp_path / "config.json").write_text(json.dumps(saved))
    loaded = LM2Config.from_pretrained(tmp_path)
    assert (loaded.memory_update, loaded.memory_read_norm, loaded.input_bias) == ("paper", False, 0.0)
    assert loaded.forget_bias == 2.0
    round_trip = LM2Config.from_dict(LM2Config(memory_update="delta", memory_read_norm=True).to_diff_dict())
    assert (round_trip.memory_update, round_trip.memory_read_norm) == ("delta", True)


def test_a_config_saved_before_floors_hard_gates_and_write_costs_loads_without_them(tmp_path):
    """Configs written between stage 4 and stage 11 of docs/memory.md state the memory update but not
    `forget_floor`, `memory_gates`, `write_penalty`, `write_penalty_warmup` or `memory_candidate`; every model
    then had σ gates, no floor, no write cost (or one priced from the start) and the read as candidate, so they
    load with those, not with today's defaults (which differ)."""
    saved = LM2Config(segment_length=8, memory_update="paper", forget_bias=4.0, input_bias=-4.0).to_dict()
    for key in ("forget_floor", "memory_gates", "write_penalty", "write_penalty_warmup", "memory_candidate"):
        saved.pop(key)
    (tmp_path / "config.json").write_text(json.dumps(saved))
    loaded = LM2Config.from_pretrained(tmp_path)
    assert (loaded.forget_floor, loaded.memory_gates, loaded.write_penalty) == (0.0, "sigmoid", 0.0)
    assert (loaded.memory_candidate, loaded.write_penalty_warmup) == ("read", 0)
    assert (loaded.memory_update, loaded.memory_read_norm, loaded.forget_bias) == ("paper", True, 4.0)
    default = LM2Config()
    assert (default.forget_floor, default.memory_gates, default.write_penalty) == (0.999, "hard", 0.1)
    default.save_pretrained(tmp_path / "today")  # a config saved today states them and keeps them
    today = LM2Config.from_pretrained(tmp_path / "today")
    assert (today.forget_floor, today.memory_gates, today.write_penalty) == (0.999, "hard", 0.1)
    assert today.write_penalty_warmup == default.write_penalty_warmup == 19_200
    stage9 = LM2Config(write_penalty_warmup=0).to_dict()  # the default of stages 9-10: priced from the start
    stage9.pop("write_penalty_warmup")
    loaded = LM2Config.from_dict(stage9)
    assert (loaded.write_penalty, loaded.write_penalty_warmup) == (0.1, 0)


def test_an_armt_config_saved_before_unit_features_loads_the_raw_features(tmp_path):
    """`armt_feature_norm` became the default after the ladder (docs/memory.md "Stage 3"); an ARMT config
    written before it existed was trained with raw DPFP features and must load as such."""
    for norm in (True, False):  # a saved config states the field either way
        LM2Config(arch="armt", segment_length=8, armt_feature_norm=norm).save_pretrained(tmp_path / str(norm))
        assert LM2Config.from_pretrained(tmp_path / str(norm)).armt_feature_norm is norm
    saved = LM2Config(arch="armt", segment_length=8).to_dict()
    saved.pop("armt_feature_norm")
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert LM2Config.from_pretrained(tmp_path).armt_feature_norm is False
    assert LM2Config().armt_feature_norm is True


def test_reopen_is_for_hard_gates_and_not_in_the_paper_preset():
    with pytest.raises(ValueError, match=r"memory_gate_grad='back' is not allowed; choose one of 'exact', 'reopen'"):
        LM2Config(memory_gate_grad="back")
    with pytest.raises(ValueError, match=r"memory_gate_grad='reopen' acts on hard gates only, but memory_gates="):
        LM2Config(memory_gates="sigmoid", memory_gate_grad="reopen")
    with pytest.raises(ValueError, match=r"memory_preset='paper' sets memory_gate_grad='exact'"):
        LM2Config(memory_preset="paper", memory_gate_grad="reopen")
    assert LM2Config().memory_gate_grad == "exact"
