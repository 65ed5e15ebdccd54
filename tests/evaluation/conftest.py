"""Fixtures of the evaluation tests: the default tokenizer (trained offline once per session), tiny saved
models with it, and a small BABILong folder in the official layout. Torch runs on one thread."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lm2 import LM2Config, LM2ForCausalLM
from lm2.data import default_tokenizer, save_babilong
from lm2.evaluation import GeneratedSource
from tests.integrations.tiny_checkpoint import one_torch_thread  # noqa: F401

TINY = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, segment_length=16)


@pytest.fixture(autouse=True)
def _single_thread(one_torch_thread):  # noqa: F811
    yield


@pytest.fixture(scope="session")
def tokenizer():
    return default_tokenizer(cache=False)


def save_model(path: Path, tokenizer, arch: str = "lm2", seed: int = 0, **overrides) -> Path:
    """A seeded, randomly initialised tiny model saved with its tokenizer (what `lm2 train` exports)."""
    torch.manual_seed(seed)
    model = LM2ForCausalLM(LM2Config(arch=arch, vocab_size=len(tokenizer), **{**TINY, **overrides}))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, tokenizer) -> Path:
    return save_model(tmp_path_factory.mktemp("lm2-model"), tokenizer)


@pytest.fixture(scope="session")
def vanilla_dir(tmp_path_factory, tokenizer) -> Path:
    return save_model(tmp_path_factory.mktemp("vanilla-model"), tokenizer, arch="vanilla")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory, tokenizer) -> Path:
    """qa1 and qa2 at 0k and 60 tokens, 4 samples each, built from generated bAbI test questions."""
    root = tmp_path_factory.mktemp("babilong")
    source = GeneratedSource(tokenizer, tasks="qa1,qa2", lengths="0k,60", samples=4, babi="generate")
    for task in source.tasks:
        for length in source.lengths:
            save_babilong(source.load(task, length), root, task, length)
    return root
