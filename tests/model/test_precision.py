"""The memory path under bf16 autocast and under torch.compile (issue 20): projections in the autocast dtype,
the state (LM2's bank, ARMT's A and z) and its update in fp32; the gate-and-update arithmetic traces into one
graph without breaks, and a compiled block computes what the eager one does."""

from __future__ import annotations

import pytest
import torch

from lm2.model.backbone import SegmentContext
from lm2.model.state import LayerCache
from tests.conftest import random_ids, tiny_model

# LM2's eq. 6 as the paper writes it, LM2 with every memory-at-length change, and ARMT with both feature maps;
# fp32 weights (the setting of a bf16-autocast run). forget_bias 4 keeps the bank from decaying to zero over
# 64 segments at this init, so its relative error means something; a larger init makes these random
# recurrences chaotic (a bf16 rounding then grows into an O(1) difference of the state, in the old all-fp32
# memory path as in this one). ARMT's unit features make the associative read O(1) at any init, so its random
# recurrence is that sensitive already at std 0.05 (a 0.4 % fp32 weight noise moves its state by 5 %); it
# runs at the default init, and the raw features at 0.05 (where, as zᵀφ << ε, the read is weak).
MODELS = [
    ("lm2", {"forget_bias": 4.0, "input_bias": 0.0, "memory_read_norm": False, "memory_update": "paper"}),
    ("lm2", {"forget_bias": 4.0, "input_bias": -4.0, "memory_read_norm": True, "memory_update": "delta"}),
    ("armt", {}),
    ("armt", {"initializer_range": 0.05, "armt_feature_norm": False}),
]
IDS = ["lm2-eq6", "lm2-norm-delta-keep", "armt", "armt-paper"]
# The raw-feature ARMT's graph is the default's without one normalisation: training curves and compilation
# are checked on the default alone (the suite's time), its bf16 state error on both.
DEFAULT_FORMS, DEFAULT_IDS = MODELS[:3], IDS[:3]


@pytest.mark.parametrize(("arch", "overrides"), MODELS, ids=IDS)
@torch.no_grad()
def test_bf16_autocast_stays_close_to_fp32_after_64_segments(arch, overrides):
    """64 segments under bf16 autocast: the state stays fp32 and close to the fp32 run's — relative error of
    the state ≤ 2 %, mean logit error ≤ 2 % of the logits' spread (measured on this machine: 0.4–0.7 % and
    0.3–0.5 %; bf16 keeps about 3 significant digits per projection)."""
    model = tiny_model(arch, dtype=torch.float32, **overrides)
    ids = random_ids(2, 64 * 6, seed=7)
    reference = model(ids)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = model(ids)
    state, low_state = _state(reference.memory), _state(low.memory)
    assert low_state.dtype == torch.float32
    error = (low_state - state).norm() / state.norm()
    assert error < 0.02, f"state relative error {error:.3g}"
    spread = reference.logits.std()
    assert (low.logits.float() - reference.logits).abs().mean() < 0.02 * spread


@pytest.mark.parametrize(("arch", "overrides"), DEFAULT_FORMS, ids=DEFAULT_IDS)
def test_training_curves_agree_in_fp32_and_bf16(arch, overrides):
    """Twenty AdamW steps from the same weights on the same batches: the bf16-autocast loss curve stays within
    5 % of the fp32 one at every step, and both go down."""
    curves = {}
    for precision in ("fp32", "bf16"):
        model = tiny_model(arch, dtype=torch.float32, **overrides).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
        curves[precision] = []
        for step in range(20):
            ids = random_ids(4, 3 * 6, seed=100 + step)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss = model(ids, labels=ids).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            curves[precision].append(loss.item())
    for fp32, bf16 in zip(curves["fp32"], curves["bf16"], strict=True):
        assert abs(bf16 - fp32) <= 0.05 * fp32
    assert curves["fp32"][-1] < curves["fp32"][0] and curves["bf16"][-1] < curves["bf16"][0]


def _state(state) -> torch.Tensor:
    return state.memory if state.associative is None else state.associative


def _block_inputs(model, n: int):
    """A fresh segment's inputs of block 1 (a later LM2 memory block, ARMT's associative read)."""
    torch.manual_seed(0)
    cfg = model.config
    b, d = 2, cfg.hidden_size
    h = torch.randn(b, n, d)
    cos, sin = model.model.rotary_emb(torch.arange(n), h.dtype)
    ctx = SegmentContext(0, torch.zeros(b, dtype=torch.long), True, cos, sin)
    kwargs = {"ctx": ctx, "cache": LayerCache()}
    if cfg.arch == "lm2":
        bank = model.model.initial_state(b, h.device).memory
        kwargs |= {"rows": bank[:, :n], "bank": bank}
    else:
        kwargs["association"] = (torch.rand(b, cfg.armt_feature_dim, d), torch.rand(b, cfg.armt_feature_dim))
    return h, kwargs


@pytest.mark.parametrize(("arch", "overrides"), DEFAULT_FORMS, ids=DEFAULT_IDS)
def test_a_memory_block_traces_without_graph_breaks(arch, overrides):
    model = tiny_model(arch, dtype=torch.float32, **overrides)
    h, kwargs = _block_inputs(model, 6)
    torch._dynamo.reset()
    explained = torch._dynamo.explain(model.model.layers[1])(h, **kwargs)
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1


@pytest.mark.parametrize(("arch", "overrides"), DEFAULT_FORMS, ids=DEFAULT_IDS)
def test_compiled_blocks_compute_what_eager_blocks_do(arch, overrides):
    """Every block compiled (as `lm2 train --run.compile` does; the aot_eager backend traces through dynamo
    and AOT autograd without generating code): logits and gradients equal eager ones to fp32 tolerance."""
    eager = tiny_model(arch, dtype=torch.float32, **overrides)
    compiled = tiny_model(arch, dtype=torch.float32, **overrides)
    torch._dynamo.reset()
    for layer in compiled.model.layers:
        layer.compile(backend="aot_eager", dynamic=False)
    ids = random_ids(2, 3 * 6 + 2, seed=9)
    outs = []
    for model in (eager, compiled):
        out = model(ids, labels=ids)
        out.loss.backward()
        outs.append((out.logits, [p.grad for p in model.parameters()]))
    torch.testing.assert_close(outs[1][0], outs[0][0], rtol=1e-5, atol=1e-5)
    for g_compiled, g_eager in zip(outs[1][1], outs[0][1], strict=True):
        if g_eager is None:
            assert g_compiled is None
        else:
            torch.testing.assert_close(g_compiled, g_eager, rtol=1e-4, atol=1e-6)
