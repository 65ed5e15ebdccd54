"""ARMT specifics (issue 18): the delta rule, what crosses segments, gradients through A and z, precision,
state and config checks. The shared properties (causality, whole == streamed, cached generation, padding,
save/load) also run for both ARMT memory-token modes through the variants in tests/conftest.py."""

from __future__ import annotations

import re

import pytest
import torch

from lm2 import LM2Config, LM2ForCausalLM
from lm2.model.armt import associate, dpfp, recall
from lm2.model.flops import forward_flops_per_token, parameter_counts, parameter_table
from tests.conftest import TINY, random_ids, tiny_model

SEG = TINY["segment_length"]
LENGTH = 4 * SEG - 1  # four segments, the last one ragged
INIT = {"initializer_range": 0.2}  # a read that matters in a tiny model (see conftest.VARIANTS)
MODES = [
    {},
    {"armt_memory_tokens": "recurrent", "armt_dpfp_nu": 2, "armt_feature_norm": False},
    {"armt_write": "sequential"},
]
MODE_IDS = ["write", "recurrent", "sequential"]


def armt(dtype=torch.float64, **overrides) -> LM2ForCausalLM:
    return tiny_model("armt", dtype=dtype, **{**INIT, **overrides})


def perturb(ids: torch.Tensor, k: int) -> torch.Tensor:
    out = ids.clone()
    out[:, k] = 4 + (out[:, k] - 4 + 17) % 46
    return out


# ---------------------------------------------------------------- the associative memory itself
def test_dpfp_is_non_negative_products_of_neighbouring_rectified_features():
    x = torch.tensor([[1.0, -2.0]])  # r = [relu(x), relu(-x)] = [1, 0, 0, 2]
    torch.testing.assert_close(dpfp(x, 1), torch.tensor([[1.0 * 2, 0.0 * 1, 0.0 * 0, 2.0 * 0]]))
    features = dpfp(torch.randn(3, 5, 8, dtype=torch.float64), 3)
    assert features.shape == (3, 5, 2 * 3 * 8) and bool((features >= 0).all())


@pytest.mark.parametrize("unit", [True, False])
def test_unit_features_make_the_memory_blind_to_the_scale_of_keys_and_queries(unit):
    from lm2.model.armt import AssociativeMemory

    memory = AssociativeMemory(LM2Config(**{**TINY, "arch": "armt", "armt_feature_norm": unit}))
    x = torch.randn(2, 3, TINY["hidden_size"] // TINY["num_attention_heads"], dtype=torch.float64)
    for c in (1e-3, 40.0):  # DPFP is homogeneous of degree 2: φ(cx) = c²φ(x)
        expected = memory.features(x) if unit else c**2 * memory.features(x)
        torch.testing.assert_close(memory.features(c * x), expected)
    if unit:
        torch.testing.assert_close(memory.features(x).norm(dim=-1), torch.ones(2, 3, dtype=torch.float64))


# A read returns ‖φ‖²/(‖φ‖² + ε) of the stored value: equal within ε/‖φ‖², hence rtol 1e-5.
def _key(seed: int, width: int = 8) -> torch.Tensor:
    """φ of a random key `(1, 1, f)`, large enough that ‖φ‖² >> ε."""
    generator = torch.Generator().manual_seed(seed)
    return dpfp(3.0 * torch.randn(1, 1, width, generator=generator, dtype=torch.float64), 3)


def _values(seed: int, count: int = 1, width: int = 5) -> torch.Tensor:
    generator = torch.Generator().manual_seed(100 + seed)
    return torch.randn(1, count, width, generator=generator, dtype=torch.float64)


def _empty(features: int, width: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.zeros(1, features, width, dtype=torch.float64), torch.zeros(1, features, dtype=torch.float64)


def test_delta_rule_replaces_the_value_of_a_stored_key():
    key, old, new = _key(0), _values(0), _values(1)
    one = torch.ones(1, 1, 1, dtype=torch.float64)
    matrix, normalizer = associate(*_empty(key.shape[-1]), key, old, one)
    torch.testing.assert_close(recall(matrix, normalizer, key), old, rtol=1e-5, atol=1e-8)
    matrix2, normalizer2 = associate(matrix, normalizer, key, new, one)
    torch.testing.assert_close(recall(matrix2, normalizer2, key), new, rtol=1e-5, atol=1e-8)  # not old + new
    torch.testing.assert_close(normalizer2, normalizer, rtol=0, atol=1e-9)  # γ = 0: z has seen this key


def test_delta_rule_leaves_the_matrix_unchanged_when_a_stored_key_brings_its_stored_value():
    key, value = _key(2), _values(2)
    matrix, normalizer = associate(*_empty(key.shape[-1]), key, value, torch.ones(1, 1, 1, dtype=torch.float64))
    for beta in (1.0, 0.3):
        again, _ = associate(matrix, normalizer, key, value, torch.full((1, 1, 1), beta, dtype=torch.float64))
        assert (again - matrix).abs().max() < 1e-7 * matrix.abs().max()


def test_keys_with_disjoint_features_keep_their_own_values():
    first, second = torch.zeros(1, 1, 8, dtype=torch.float64), torch.zeros(1, 1, 8, dtype=torch.float64)
    first[..., :3] = torch.tensor([2.0, 3.0, 1.5])
    second[..., 4:7] = torch.tensor([1.0, 2.0, 2.0])
    keys = dpfp(torch.cat([first, second], 1), 3)  # (1, 2, f), φ(first) ⟂ φ(second)
    assert float(keys[0, 0] @ keys[0, 1]) == 0.0
    values = _values(3, count=2)
    matrix, normalizer = associate(*_empty(keys.shape[-1]), keys, values, torch.ones(1, 2, 1, dtype=torch.float64))
    torch.testing.assert_close(recall(matrix, normalizer, keys), values, rtol=1e-5, atol=1e-8)


def _stored(key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A, z holding `value` under unit-norm `key` (zᵀk = 1)."""
    return associate(*_empty(key.shape[-1]), key, value, torch.ones(1, 1, 1, dtype=torch.float64))


def test_one_token_writes_the_same_jointly_or_in_turn():
    key = torch.nn.functional.normalize(_key(4), dim=-1)
    matrix, normalizer = _stored(key, _values(4))
    keys = torch.nn.functional.normalize(_key(5), dim=-1)  # another key, which overlaps the stored one (φ ≥ 0)
    beta = torch.full((1, 1, 1), 0.7, dtype=torch.float64)
    joint = associate(matrix, normalizer, keys, _values(5), beta)
    turn = associate(matrix, normalizer, keys, _values(5), beta, order="sequential")
    for got, want in zip(turn, joint, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)  # one token: the same operations (float64)


def test_tokens_in_turn_write_as_the_same_tokens_one_call_each():
    keys = torch.nn.functional.normalize(torch.cat([_key(6), _key(7), _key(6)], 1), dim=-1)
    values, beta = _values(6, count=3), torch.tensor([[[0.9], [0.4], [0.8]]], dtype=torch.float64)
    state = _empty(keys.shape[-1])
    turn = associate(*state, keys, values, beta, order="sequential")
    for i in range(3):
        state = associate(*state, keys[:, i : i + 1], values[:, i : i + 1], beta[:, i : i + 1])
    for got, want in zip(turn, state, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)  # the same calls on the same numbers (float64)


def test_tokens_with_one_key_grow_the_matrix_jointly_and_store_their_value_in_turn():
    """Three memory tokens with one unit key and strength 0.9 each, after the key holds another value (zᵀk = 1):
    jointly, what A returns for the key moves by 1 − 3·0.9/(1 + ε) ≈ −1.7 of its error per write (docs/memory.md
    "Stage 36"); in turn, by about (1 − 0.9)³ of it (z has seen the key: γ = 0), so the value is stored and A stays
    bounded."""
    key = torch.nn.functional.normalize(_key(8), dim=-1)
    keys, values = key.expand(1, 3, -1), _values(9).expand(1, 3, -1)
    beta = torch.full((1, 3, 1), 0.9, dtype=torch.float64)
    joint = turn = _stored(key, _values(8))
    error = (recall(*joint, key) - values[:, :1]).norm()
    for _ in range(12):
        joint = associate(*joint, keys, values, beta)
        turn = associate(*turn, keys, values, beta, order="sequential")
    assert (recall(*joint, key) - values[:, :1]).norm() > 100 * error  # 1.7¹² ≈ 580
    assert joint[0].norm() > 100 * _stored(key, _values(8))[0].norm()
    torch.testing.assert_close(recall(*turn, key), values[:, :1], rtol=1e-4, atol=1e-8)  # ε/(1 + ε) of it
    assert turn[0].norm() < 2 * values.norm()


# ---------------------------------------------------------------- what crosses segments
@pytest.mark.parametrize("k", [2, SEG, 2 * SEG + 1])
@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_causal_by_perturbation_and_the_change_reaches_later_segments(mode, k):
    """Changing token k changes no logit before it, and reaches every later segment (in "write" mode only
    through A and z: segment tokens never see the memory tokens)."""
    model = armt(**mode)
    ids = random_ids(2, LENGTH)
    base, moved = model(ids).logits, model(perturb(ids, k)).logits
    assert (moved[:, :k] - base[:, :k]).abs().max() < 1e-12
    next_segment = (k // SEG + 1) * SEG
    assert (moved[:, next_segment:] - base[:, next_segment:]).abs().max() > 1e-6
    assert (moved[:, 3 * SEG :] - base[:, 3 * SEG :]).abs().max() > 1e-6  # still there 3 segments on


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_every_cut_streams_the_associative_state_exactly(mode):
    model = armt(**mode)
    ids = random_ids(2, LENGTH)
    whole = model(ids)
    for cut in range(1, LENGTH):
        first = model(ids[:, :cut])
        rest = model(ids[:, cut:], memory=first.memory)
        torch.testing.assert_close(torch.cat([first.logits, rest.logits], 1), whole.logits, rtol=0, atol=1e-10)
        for name in ("associative", "normalizer", "memory"):
            got, want = getattr(rest.memory, name), getattr(whole.memory, name)
            assert (got is None) == (want is None) == (name == "memory" and "armt_memory_tokens" not in mode)
            if got is not None:
                torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_memory_is_written_only_when_a_segment_completes():
    model = armt()
    ids = random_ids(1, 2 * SEG + 2)
    inside = model(ids[:, : SEG - 1]).memory
    assert inside.memory is None  # "write" mode: only A and z cross segments
    assert torch.equal(inside.associative, torch.zeros_like(inside.associative))  # nothing written yet
    done = model(ids[:, :SEG]).memory  # every block's A and z written
    assert (done.associative.abs().amax(dim=(2, 3)) > 0).all() and (done.normalizer.abs().amax(-1) > 0).all()
    ragged = model(ids).memory  # the third segment is unfinished: A and z are those after two segments
    two = model(ids[:, : 2 * SEG]).memory.associative  # recomputed in another call: float64 tolerance
    torch.testing.assert_close(ragged.associative, two, rtol=0, atol=1e-12)


def test_zero_read_gain_is_the_memoryless_segmented_model_and_the_gain_learns():
    """With the read gain at 0 (`lm2 convert`), ARMT gives exactly the segmented Transformer's logits at any
    length, and the gain still receives gradient once a segment has been written."""
    model = armt(armt_read_gain=0.0)
    segmented = tiny_model("vanilla", vanilla_mode="segmented", **INIT)
    segmented.load_state_dict({n: w for n, w in model.state_dict().items() if n in segmented.state_dict()})
    ids = random_ids(2, LENGTH)
    torch.testing.assert_close(model(ids).logits, segmented(ids).logits, rtol=0, atol=1e-12)
    model.train()
    model(ids, labels=ids).loss.backward()
    assert all(layer.associative.gain.grad.abs().sum() > 0 for layer in model.model.layers)


# ---------------------------------------------------------------- gradients through time
def _first_segment_embedding_grad(model: LM2ForCausalLM) -> torch.Tensor:
    """Gradient of the last segment's loss w.r.t. the embeddings of tokens that occur only in the first."""
    generator = torch.Generator().manual_seed(5)
    first = torch.randint(4, 10, (1, SEG), generator=generator)
    rest = torch.randint(20, TINY["vocab_size"], (1, 3 * SEG), generator=generator)
    ids = torch.cat([first, rest], 1)
    labels = torch.full_like(ids, -100)
    labels[:, -SEG:] = ids[:, -SEG:]
    model(ids, labels=labels).loss.backward()
    return model.model.embed_tokens.weight.grad[4:10]


def test_gradient_reaches_the_first_segment_through_the_associative_memory():
    grad = _first_segment_embedding_grad(armt().train())  # "write" mode: A and z are the only path
    assert grad.abs().sum() > 1e-8


def test_bptt_segments_one_stops_the_gradient_at_the_first_boundary():
    for mode in MODES:
        grad = _first_segment_embedding_grad(armt(bptt_segments=1, **mode).train())
        assert grad.abs().sum() == 0  # no gradient path at all: exact zeros on any CPU


def test_segment_checkpointing_gives_the_same_gradients():
    ids = random_ids(2, LENGTH)
    grads = []
    for flag in (False, True):
        model = armt(segment_checkpointing=flag).train()
        model(ids, labels=ids).loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=1e-12)


# ---------------------------------------------------------------- precision
def test_associative_state_stays_fp32_under_bf16_autocast_and_fp64_in_fp64_models():
    ids = random_ids(2, 2 * SEG + 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        state = armt(dtype=torch.float32)(ids).memory
    bf16 = armt(dtype=torch.bfloat16)(ids).memory
    for s in (state, bf16):
        assert (s.associative.dtype, s.normalizer.dtype) == (torch.float32, torch.float32)
        assert bool(torch.isfinite(s.associative).all()) and s.associative.abs().max() > 0
    assert armt()(ids).memory.associative.dtype == torch.float64


# ---------------------------------------------------------------- state and generation
def test_state_operations_carry_the_associative_memory():
    model = armt()
    ids = random_ids(2, 2 * SEG + 2)
    more = random_ids(2, SEG + 1, seed=4)
    state = model(ids).memory
    assert state.nbytes >= state.associative.nbytes + state.normalizer.nbytes
    assert not state.detach().associative.requires_grad
    picked = state.index_select(torch.tensor([1]))
    assert torch.equal(picked.associative[0], state.associative[1])  # index_select copies the bytes
    both = model(more, memory=state).logits
    torch.testing.assert_close(model(more[1:], memory=picked).logits, both[1:], rtol=0, atol=1e-10)
    doubled = state.repeat_interleave(2)
    assert doubled.associative.shape[0] == 4 and doubled.normalizer.shape[0] == 4
    torch.testing.assert_close(
        model(more.repeat_interleave(2, 0), memory=doubled).logits[::2], both, rtol=0, atol=1e-10
    )


@pytest.mark.parametrize("side", ["left", "right"])
def test_padded_batch_generate_equals_each_sample_alone(side):
    model = armt()
    lengths, width = [SEG + 3, 2, 2 * SEG - 1], 2 * SEG - 1
    ids = random_ids(3, width)
    padded, mask = torch.zeros(3, width, dtype=torch.long), torch.zeros(3, width, dtype=torch.long)
    for i, n in enumerate(lengths):
        cols = slice(width - n, width) if side == "left" else slice(0, n)
        padded[i, cols], mask[i, cols] = ids[i, :n], 1
    batch = model.generate(padded, attention_mask=mask, max_new_tokens=2 * SEG, do_sample=False, pad_token_id=0)
    for i, n in enumerate(lengths):
        alone = model.generate(ids[i : i + 1, :n], max_new_tokens=2 * SEG, do_sample=False)
        assert torch.equal(batch[i, width:], alone[0, n:])


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_beam_search_scores_match_full_forward(mode):
    """Beam search reorders A and z with the cache, across segment boundaries."""
    model = armt(**mode)
    prompt = random_ids(2, 4)
    out = model.generate(
        prompt, num_beams=3, num_return_sequences=3, do_sample=False, max_new_tokens=2 * SEG,
        length_penalty=0.0, output_scores=True, return_dict_in_generate=True,
    )  # fmt: skip
    logp = torch.log_softmax(model(out.sequences).logits.float(), -1)
    new = out.sequences[:, prompt.shape[1] :]
    total = logp[:, prompt.shape[1] - 1 : -1].gather(-1, new[..., None]).sum((1, 2))
    torch.testing.assert_close(out.sequences_scores.float(), total, rtol=0, atol=1e-4)


def test_a_state_from_another_model_is_named():
    ids = random_ids(1, SEG + 1)
    state = armt()(ids).memory
    with pytest.raises(ValueError, match=re.escape("memory.associative has shape (1, 3, 48, 32), this model needs")):
        armt(armt_dpfp_nu=2)(ids, memory=state)
    with pytest.raises(ValueError, match=re.escape("memory.memory has shape None, this model needs (1, 3, 32)")):
        armt(armt_memory_tokens="recurrent")(ids, memory=state)
    with pytest.raises(ValueError, match="memory comes from arch='rmt', this model is arch='armt'"):
        armt()(ids, memory=tiny_model("rmt")(ids).memory)


# ---------------------------------------------------------------- config, parameters, cost
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"armt_dpfp_nu": 0}, "armt_dpfp_nu=0 must be a positive integer"),
        ({"armt_dpfp_nu": 2.5}, "armt_dpfp_nu=2.5 must be a positive integer"),
        ({"armt_dpfp_nu": 8, "armt_key_dim": 4}, "armt_dpfp_nu=8 must be at most 2*armt_key_dim-1=7"),
        ({"armt_key_dim": 0}, "armt_key_dim=0 must be a positive integer"),
        ({"armt_feature_norm": "yes"}, "armt_feature_norm='yes' must be true or false"),
        ({"armt_read_gain": float("nan")}, "armt_read_gain=nan must be a finite number or None"),
        ({"armt_read_gain": "0"}, "armt_read_gain='0' must be a finite number or None"),
        ({"armt_memory_tokens": "read"}, "armt_memory_tokens='read' is not allowed; choose one of 'write',"),
        ({"armt_write": "both"}, "armt_write='both' is not allowed; choose one of 'joint', 'sequential'"),
        ({"num_memory_tokens": 0}, "num_memory_tokens=0 must be a positive integer for arch='armt'"),
    ],
)
def test_bad_armt_config_values_are_named(overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        LM2Config(**{**TINY, "arch": "armt", **overrides})


@pytest.mark.parametrize("overrides", [{}, {"armt_read_gain": 0.0, "armt_key_dim": 6}, MODES[1]])
def test_parameters_are_named_per_block_and_counted(overrides):
    config = LM2Config(**{**TINY, "arch": "armt", **overrides})
    model = LM2ForCausalLM(config)
    names = dict(model.named_parameters())
    assert names["model.layers.2.associative.q_proj.weight"].shape == (config.armt_key_dim, TINY["hidden_size"])
    assert names["model.memory_tokens"].shape == (TINY["num_memory_tokens"], TINY["hidden_size"])
    assert ("model.layers.0.associative.gain" in names) == (config.armt_read_gain is not None)
    assert parameter_counts(config)["total"] == sum(p.numel() for p in model.parameters())
    assert config.armt_feature_dim == 2 * config.armt_dpfp_nu * config.armt_key_dim


def test_parameter_table_and_flops_include_armt():
    config = LM2Config(**{**TINY, "tie_word_embeddings": True})
    table = parameter_table(config)
    built = LM2ForCausalLM(LM2Config(**{**TINY, "tie_word_embeddings": True, "arch": "armt"}))
    assert table["armt"]["total"] == sum(p.numel() for p in built.parameters())
    assert table["armt"]["backbone"] == table["vanilla"]["backbone"]
    flops = {
        name: forward_flops_per_token(LM2Config(**{**TINY, **overrides}), 64)
        for name, overrides in {
            "segmented": {"arch": "vanilla", "vanilla_mode": "segmented"},
            "write": {"arch": "armt"},
            "recurrent": {"arch": "armt", "armt_memory_tokens": "recurrent"},
        }.items()
    }
    assert flops["segmented"] < flops["write"] < flops["recurrent"]
