"""`MemoryState`: what crosses calls; its size in bytes."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tests.conftest import random_ids, tiny_model


@pytest.mark.parametrize("arch", ["lm2", "rmt", "vanilla"])
def test_nbytes_counts_every_tensor_of_the_state(arch):
    model = tiny_model(arch)
    with torch.no_grad():
        boundary = model(random_ids(2, 12)).memory  # two whole segments of 6: no unfinished segment
        inside = model(random_ids(2, 9)).memory  # 3 tokens into the second segment: its caches are kept
    for state in (boundary, inside):
        fields = [getattr(state, f.name) for f in dataclasses.fields(state)]
        tensors = [*fields, *(t for c in state.layers or [] for t in c.tensors())]
        tensors = [t for t in tensors if isinstance(t, torch.Tensor)]
        assert state.nbytes == sum(t.numel() * t.element_size() for t in tensors) > 0
    if arch != "vanilla":  # a full-attention model keeps its whole cache either way
        assert inside.nbytes > boundary.nbytes
