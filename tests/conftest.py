"""Shared fixtures: tiny float64 models of each architecture (fast on 2 CPU cores, exact comparisons)."""

from __future__ import annotations

import pytest
import torch

from lm2 import LM2Config, LM2ForCausalLM

# One intra-op thread in each test process. The suite's tensors are tiny, where a second thread costs more in
# synchronisation than it computes, and `python -m pytest` runs a worker process per core (pytest-xdist, the
# addopts in pyproject.toml), so the cores are shared out by the workers. A test that sets its own count (an
# in-process `lm2 ... --threads N`, a thread-dependent recorded result) has it reset after it.
TEST_THREADS = 1
torch.set_num_threads(TEST_THREADS)


# The files that take longest (most of a minute or more of one core: trainings, process starts), longest first.
# With `--dist loadfile` pytest-xdist hands whole files to the workers in collection order, so these start
# first and the short files fill in at the end; in path order the longest (tests/training/) came last and one
# worker ran them alone. Only the order changes: a file missing from the list runs in its usual place.
LONGEST_FILES = (
    "tests/training/test_training_distributed.py",
    "tests/model/test_memory_learning.py",
    "tests/evaluation/test_evaluation_study.py",
    "tests/cli/test_cli_demo.py",
    "tests/training/test_training_resume.py",
    "tests/bench/test_bench_ladder.py",
    "tests/training/test_training_shards.py",
    "tests/integrations/test_integrations_lm_eval.py",
    "tests/scripts/test_backbone_study.py",
    "tests/training/test_training_loop.py",
)


def pytest_collection_modifyitems(config, items):
    root = config.rootpath
    first = {name: i for i, name in enumerate(LONGEST_FILES)}

    def rank(item):
        path = item.path.relative_to(root).as_posix() if item.path.is_relative_to(root) else ""
        return first.get(path, len(first))

    items.sort(key=rank)  # stable: the tests of a file, and the other files, keep their order


@pytest.fixture(autouse=True)
def _test_threads():
    yield
    if torch.get_num_threads() != TEST_THREADS:
        torch.set_num_threads(TEST_THREADS)


TINY = dict(
    vocab_size=50,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,
    segment_length=6,
    num_memory_tokens=3,
)

# (arch, extra config) pairs that every property test runs over: the LM2 memory variants, several memory_layers
# choices, RMT, ARMT in both memory-token modes (and both feature maps), and both vanilla modes. ARMT runs with
# a larger init: with raw features at std 0.02 a tiny model's keys are so small that zᵀφ(q) << ε and the
# associative read is ~1e-6 of the logits, which would let the properties hold without the memory mattering;
# at 0.2 it changes the logits by O(1).
VARIANTS = [
    ("lm2", {}),
    ("lm2", {"memory_layers": [1], "memory_read_center": "gated"}),  # "keys": tests/model/test_reference.py
    (
        "lm2",
        {"memory_layers": [0, 2], "memory_query": "attention", "memory_output": "read", "memory_read_center": "split"},
    ),
    (
        "lm2",
        {
            "memory_init": "learned",
            "memory_heads": 2,
            "memory_gates": "hard",
            "input_bias": 0.0,
            "write_penalty": 0.5,
            "memory_read_center": False,  # stated: the learned fraction excludes a fixed centring, whatever the default
            "memory_read_center_fraction": 0.5,
        },
    ),
    (
        "lm2",
        {
            "memory_read_norm": True,
            "memory_update": "delta",
            "forget_bias": 4.0,
            "input_bias": -4.0,
            "forget_floor": 0.999,
            "memory_candidate": "input",
            "memory_read_center": True,
        },
    ),
    (  # writes addressed by key (docs/memory.md "Stage 30"); input gates half open so that a random model writes
        "lm2",
        {
            "memory_write": "addressed",
            "memory_output": "read",
            "memory_layers": [0, 2],
            "memory_heads": 2,
            "input_bias": 0.0,
            "write_penalty": 0.5,
        },
    ),
    (  # writes by the normalised delta rule (docs/memory.md "Stage 31"), the token's own content, one head
        "lm2",
        {"memory_write": "delta", "memory_output": "read", "memory_candidate": "input", "input_bias": 0.0},
    ),
    (  # the same addressed by content with a key strength (memory_address="cosine"), two heads
        "lm2",
        {
            "memory_write": "delta",
            "memory_output": "read",
            "memory_address": "cosine",
            "memory_heads": 2,
            "input_bias": 0.0,
            "memory_address_strength": 3.0,
        },
    ),
    (  # the same addressed by keys of the rows' own (memory_address="slots"), two heads, two memory blocks
        "lm2",
        {
            "memory_write": "delta",
            "memory_output": "read",
            "memory_address": "slots",
            "memory_heads": 2,
            "memory_layers": [0, 2],
            "memory_candidate": "input",
            "input_bias": 0.0,
        },
    ),
    (  # the delta rule taken write after write in token order (docs/memory.md "Stage 35"), two memory blocks
        "lm2",
        {
            "memory_write": "sequential",
            "memory_output": "read",
            "memory_layers": [0, 2],
            "memory_candidate": "input",
            "input_bias": 0.0,
        },
    ),
    ("rmt", {}),
    ("armt", {"initializer_range": 0.2}),
    (
        "armt",
        {
            "armt_memory_tokens": "recurrent",
            "armt_dpfp_nu": 2,
            "armt_key_dim": 4,
            "armt_feature_norm": False,
            "initializer_range": 0.2,
        },
    ),
    ("vanilla", {}),
    ("vanilla", {"vanilla_mode": "segmented"}),
]
VARIANT_IDS = [arch + "".join(f"-{k}={v}" for k, v in kw.items()).replace(" ", "") for arch, kw in VARIANTS]


def tiny_model(arch: str = "lm2", seed: int = 0, dtype=torch.float64, **overrides) -> LM2ForCausalLM:
    """A tiny eval-mode model with seeded random weights; eos disabled so generations have fixed length."""
    torch.manual_seed(seed)
    model = LM2ForCausalLM(LM2Config(arch=arch, **{**TINY, **overrides})).to(dtype).eval()
    model.generation_config.eos_token_id = None
    return model


@pytest.fixture(params=VARIANTS, ids=VARIANT_IDS)
def variant(request) -> LM2ForCausalLM:
    arch, overrides = request.param
    return tiny_model(arch, **overrides)


def random_ids(batch: int, length: int, seed: int = 1, vocab: int = TINY["vocab_size"]) -> torch.Tensor:
    """Token ids that avoid the special ids 0..3 (pad, bos, eos, answer separator)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(4, vocab, (batch, length), generator=generator)
