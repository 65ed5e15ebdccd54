"""`data.documents: reset`: a sample's memory restarts at a document start inside a packed window, and each
document then gives exactly what it gives run alone — for every architecture and memory variant."""

from __future__ import annotations

import torch

from lm2.training.data import IGNORE
from lm2.training.distributed import LossOnly
from lm2.training.documents import document_forward
from tests.conftest import random_ids, tiny_model

# Document starts per sample (segment_length 6): inside a segment, on a boundary, at different columns per
# sample, two starts in one segment, and a sample with no start at all.
STARTS = [[4, 13], [6, 7, 15], []]
LENGTH = 20


def starts_mask(starts: list[list[int]]) -> torch.Tensor:
    mask = torch.zeros(len(starts), LENGTH, dtype=torch.bool)
    for row, columns in enumerate(starts):
        mask[row, columns] = True
    return mask


def documents(row: int) -> list[tuple[int, int]]:
    bounds = [0, *STARTS[row], LENGTH]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def test_reset_gives_each_document_its_result_alone(variant):
    ids = random_ids(len(STARTS), LENGTH)
    with torch.no_grad():
        hidden, _, _ = document_forward(variant.model, ids, None, starts_mask(STARTS))
        for row in range(len(STARTS)):
            for a, z in documents(row):
                alone, _ = variant.model(ids[row : row + 1, a:z])
                torch.testing.assert_close(hidden[row, a:z], alone[0], rtol=1e-9, atol=1e-9)


def test_without_starts_it_is_one_stream_and_carry_differs():
    model = tiny_model("lm2")
    ids = random_ids(len(STARTS), LENGTH)
    with torch.no_grad():
        whole, _ = model.model(ids)
        none, _, _ = document_forward(model.model, ids, None, starts_mask([[], [], []]))
        reset, _, _ = document_forward(model.model, ids, None, starts_mask(STARTS))
    torch.testing.assert_close(none, whole, rtol=1e-9, atol=1e-9)
    assert not torch.allclose(reset[0, 4:], whole[0, 4:], atol=1e-6)  # the memory did matter across documents


def test_reset_loss_is_the_token_weighted_loss_of_the_documents_alone():
    model = tiny_model("lm2")
    ids = random_ids(len(STARTS), LENGTH)
    starts = starts_mask(STARTS)
    labels = ids.masked_fill(starts, IGNORE)  # as ShardStream: a document's first token is not predicted
    with torch.no_grad():
        loss = LossOnly(model)(ids, None, labels, starts)
        total, count = 0.0, 0
        for row in range(len(STARTS)):
            for a, z in documents(row):
                if z - a < 2:
                    continue  # a one-token document predicts nothing
                piece = ids[row : row + 1, a:z]
                total += model(piece, labels=piece).loss.item() * (z - a - 1)
                count += z - a - 1
    torch.testing.assert_close(loss.item(), total / count, rtol=1e-6, atol=1e-6)  # the loss is taken in fp32


def test_reset_write_tally_is_the_sum_of_the_documents_alone():
    """The window's write tally (Σ input gate, count) adds up its documents' own, so the trainer prices
    (`write_penalty`) exactly the writes each document makes alone."""
    model = tiny_model("lm2")
    ids = random_ids(len(STARTS), LENGTH)
    with torch.no_grad():
        _, _, tally = document_forward(model.model, ids, None, starts_mask(STARTS), return_writes=True)
        alone = sum(
            model.model(ids[row : row + 1, a:z], return_writes=True)[2]
            for row in range(len(STARTS))
            for a, z in documents(row)
        )
    assert tally[1] == len(STARTS) * LENGTH  # every real token
    torch.testing.assert_close(tally, alone, rtol=1e-9, atol=1e-9)


def test_gradients_flow_through_every_piece():
    model = tiny_model("lm2").train()
    ids = random_ids(len(STARTS), LENGTH)
    starts = starts_mask(STARTS)
    LossOnly(model)(ids, None, ids.masked_fill(starts, IGNORE), starts).backward()
    assert model.model.embed_tokens.weight.grad[ids[2]].abs().sum() > 0
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
