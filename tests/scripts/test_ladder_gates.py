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
