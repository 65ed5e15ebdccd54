"""scripts/ladder_gates.py (docs/memory.md "Stage 4"): the retention it derives from recorded gates."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

SCRIPT = Path(__file__).parents[2] / "scripts" / "ladder_gates.py"


def load_script():
    spec = importlib.util.spec_from_file_location("ladder_gates", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_constant_gates_give_their_horizon_and_the_fact_rows_surviving_share():
    script = load_script()
    seg, segments = 4, 5
    forget = torch.full((1, 3, segments * seg), 0.5)  # (blocks, b, L)
    forget[0, :, seg : seg + 2] = 0.25  # block 0: the first later segment forgets the fact rows harder
    trace = SimpleNamespace(blocks=[1], gate_forget=forget[:1], gate_in=torch.full_like(forget[:1], 0.1))
    (stats,) = script.gate_statistics(trace, seg)
    assert stats["block"] == 1 and stats["input_mean"] == pytest.approx(0.1)
    assert stats["horizon_segments"] == pytest.approx(-1 / ((2 * math.log(0.25) + 10 * math.log(0.5)) / 12))
    assert stats["fact_share_median"] == pytest.approx(0.25 * 0.5 ** (segments - 2))


def test_under_the_delta_update_a_write_also_replaces_the_fact_rows():
    """M ← (1 − g_in) g_f M + g_in c: each later token keeps (1 − g_in) g_f of the fact rows, and the input
    gate alone sets how fast writes replace a row."""
    script = load_script()
    seg, segments = 4, 5
    forget = torch.ones(1, 2, segments * seg)  # a forget gate saturated at 1, as hard gates learn it
    trace = SimpleNamespace(blocks=[0], gate_forget=forget, gate_in=torch.full_like(forget, 0.2))
    (stats,) = script.gate_statistics(trace, seg, update="delta")
    assert stats["fact_share_median"] == pytest.approx(0.8 ** (segments - 1))
    assert stats["write_horizon_segments"] == pytest.approx(-1 / math.log(0.8))
    (paper,) = script.gate_statistics(trace, seg)
    assert paper["fact_share_median"] == pytest.approx(1.0)


def test_exactly_shut_and_exactly_keeping_gates_are_counted_among_the_noise_tokens():
    """Hard gates (stages 7-9): the share of noise tokens (after the fact's segment, before the question's)
    whose input gate is exactly 0 and whose forget gate is exactly 1; the fact tokens' own writes apart."""
    script = load_script()
    seg, segments = 4, 4
    write = torch.zeros(1, 1, segments * seg)
    write[0, 0, :2] = 0.5  # the key and the value write
    write[0, 0, seg : seg + 2] = 0.01  # two of the 8 noise tokens leak
    forget = torch.ones_like(write)
    forget[0, 0, seg + 3] = 0.999  # one noise token forgets a little
    trace = SimpleNamespace(blocks=[0], gate_forget=forget, gate_in=write)
    (stats,) = script.gate_statistics(trace, seg, update="delta")
    assert stats["input_shut_share"] == pytest.approx(6 / 8) and stats["forget_whole_share"] == pytest.approx(7 / 8)
    assert stats["fact_input_mean"] == pytest.approx(0.5)


def test_capacity_counts_every_pairs_rows_as_the_fact():
    """Capacity stores `pairs` key/value pairs in rows 0..2·pairs−1: their surviving share is the median over
    samples of those rows' mean, and their own writes are the fact tokens' input gates."""
    script = load_script()
    seg, segments = 8, 3
    forget = torch.ones(1, 1, segments * seg)
    forget[0, 0, seg + 2 : seg + 4] = 0.5  # the second pair's rows lose half in the next segment
    write = torch.zeros_like(forget)
    write[0, 0, :4] = 0.4
    trace = SimpleNamespace(blocks=[0], gate_forget=forget, gate_in=write)
    (two,) = script.gate_statistics(trace, seg, facts=2)
    (four,) = script.gate_statistics(trace, seg, facts=4)
    assert two["fact_share_median"] == pytest.approx(1.0) and two["fact_input_mean"] == pytest.approx(0.4)
    assert four["fact_share_median"] == pytest.approx((1 + 1 + 0.5 + 0.5) / 4)
    assert four["fact_input_mean"] == pytest.approx(0.4)
