"""Streaming a long input in pieces gives exactly the whole input's tokens and the whole input's state."""

from __future__ import annotations

import io

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lm2.integrations.stream import (
    hold_last,
    open_prompt,
    prefill,
    split_columns,
    state_bytes,
    text_pieces,
    token_chunks,
)
from tests.conftest import random_ids, tiny_model
from tests.integrations.tiny_checkpoint import random_text, tiny_tokenizer


@settings(max_examples=15, deadline=None)
@given(size=st.integers(16, 200), seed=st.integers(0, 50))
def test_text_pieces_tokenize_exactly_like_the_whole_text(size, seed):
    """Cut only between words. A piece grows up to 4 x size to find such a place: the text's tail has no
    letter-space-letter place for up to 45 characters, so sizes from 16 on always find one (hypothesis found
    size 8 cutting inside "punctuation", the documented fallback, tested below)."""
    text = random_text(80, seed=seed) + "  12345 digits,and\npunctuation!  end"
    pieces = list(text_pieces(io.StringIO(text), size))
    assert "".join(pieces) == text
    assert all(len(p) < 5 * size for p in pieces)
    tokenizer = tiny_tokenizer()
    streamed = [t for chunk in token_chunks(tokenizer, pieces, 7) for t in chunk]
    assert streamed == tokenizer.encode(text, add_special_tokens=False)


def test_text_pieces_cut_anywhere_when_no_word_boundary_comes():
    """Without a safe place within 4 x size characters the text is cut anyway; nothing is lost."""
    text = "x" * 100 + " tail"
    pieces = list(text_pieces(io.StringIO(text), 8))
    assert "".join(pieces) == text
    assert max(len(p) for p in pieces) <= 4 * 8 + 8 and len(pieces) > 2


def test_token_chunks_have_the_requested_size_and_hold_last_keeps_one_token_back():
    chunks = list(token_chunks(tiny_tokenizer(), ["Mary moved", " to the bathroom."], 3, prefix=[1]))
    assert all(len(c) == 3 for c in chunks[:-1]) and 1 <= len(chunks[-1]) <= 3 and chunks[0][0] == 1
    held = list(hold_last(chunks))
    assert [c for c, _ in held[:-1]] == chunks[:-1]
    assert held[-1] == (chunks[-1][:-1], chunks[-1][-1])
    assert list(hold_last([])) == []


@pytest.mark.parametrize("arch", ["lm2", "rmt", "vanilla"])
def test_prefill_in_chunks_continues_exactly_like_one_forward(arch):
    model = tiny_model(arch)
    ids = random_ids(2, 41)
    state = prefill(model, split_columns(ids[:, :-1], 5))
    with torch.no_grad():
        streamed = model(ids[:, -1:], memory=state).logits
        whole = model(ids).logits[:, -1:]
    torch.testing.assert_close(streamed, whole, rtol=0, atol=1e-10)


def test_state_does_not_grow_with_the_input():
    model = tiny_model("lm2")  # segment_length 6
    sizes = []
    state = None
    for chunk in split_columns(random_ids(1, 600), 6):
        state = prefill(model, [chunk], state)
        sizes.append(state_bytes(state))
    assert len(set(sizes)) == 1 and sizes[0] == 6 * 32 * 8 + 8  # one (6, 32) fp64 bank and the offset


def test_open_prompt_needs_exactly_one_source(tmp_path):
    with pytest.raises(ValueError, match="exactly one"), open_prompt():
        pass
    with pytest.raises(FileNotFoundError, match="no prompt file"), open_prompt(file=tmp_path / "missing.txt"):
        pass
    with open_prompt(prompt="héllo") as (stream, size):
        assert stream.read() == "héllo" and size == 6
