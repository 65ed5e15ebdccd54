"""Tiny saved checkpoints (weights + a small trained tokenizer) shared by the integration, analysis and
command-line tests; everything is offline and takes well under a second."""

from __future__ import annotations

import functools
import random
from pathlib import Path

import pytest
import torch

from lm2 import LM2ForCausalLM
from lm2.data.tokenizer import train_tokenizer
from tests.conftest import tiny_model

CORPUS = [
    "Mary moved to the bathroom. John went to the hallway. Where is Mary? bathroom",
    "Daniel travelled to the office. Sandra journeyed to the garden. Where is Daniel? office",
    "The old ship sailed along the quiet river while the children watched from the bridge.",
    "Philip knew well enough that the matter could not rest there, and he stepped out to the marshes.",
    "Her cousin wrote a long letter about the harvest, the weather and the price of bread in town.",
    "A fox crossed the field at dawn and the farmer counted seven sheep near the stone wall.",
]
WORDS = sorted({w.strip(".?,") for line in CORPUS for w in line.split()})


@functools.lru_cache(maxsize=1)
def tiny_tokenizer():
    return train_tokenizer(CORPUS * 20, vocab_size=300)


def save_tiny_checkpoint(
    path: Path, arch: str = "lm2", dtype: torch.dtype = torch.float64, **overrides
) -> LM2ForCausalLM:
    """Save a seeded tiny model of `arch` with the tiny tokenizer into `path`; return the model."""
    tokenizer = tiny_tokenizer()
    overrides = {"vocab_size": len(tokenizer), "segment_length": 8, **overrides}
    model = tiny_model(arch, dtype=dtype, **overrides)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return model


def random_text(words: int, seed: int = 0) -> str:
    """Sentences of random corpus words (about 1.3 tokens per word with the tiny tokenizer)."""
    rng = random.Random(seed)
    out = []
    for i in range(words):
        word = rng.choice(WORDS)
        out.append(word.capitalize() if i % 9 == 0 else word)
        if i % 9 == 8:
            out[-1] += "."
    return " ".join(out)


@pytest.fixture
def one_torch_thread():
    """Tiny models run fastest on one thread, and much faster than on two busy cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
