"""`lm2 generate`: the streamed prompt continues exactly like the whole prompt, a 50k-token file runs with a
state and memory that do not grow, and wrong options are named."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import torch

from lm2.cli.main import main
from lm2.integrations.stream import prefill, state_bytes
from tests.integrations.tiny_checkpoint import random_text, save_tiny_checkpoint, tiny_tokenizer


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("model")
    return path, save_tiny_checkpoint(path, "lm2", dtype=torch.float32, segment_length=16)


def test_streamed_prompt_continues_like_the_whole_prompt(checkpoint, tmp_path, capsys):
    path, model = checkpoint
    text = random_text(150, seed=8)
    (tmp_path / "prompt.txt").write_text(text)
    args = ["generate", "--model", str(path), "--file", str(tmp_path / "prompt.txt"), "--greedy"]
    assert main([*args, "--max-new-tokens", "6", "--chunk-size", "37"]) == 0
    ids = [tiny_tokenizer().bos_token_id, *tiny_tokenizer().encode(text)]
    out = model.generate(torch.tensor([ids]), max_new_tokens=6, do_sample=False)
    expected = tiny_tokenizer().decode(out[0, len(ids) :], skip_special_tokens=True)
    assert capsys.readouterr().out == expected + "\n"


def test_sampling_is_reproducible_with_a_seed(checkpoint, capsys):
    path, _ = checkpoint
    args = ["generate", "--model", str(path), "--prompt", "Mary went to the", "--max-new-tokens", "8"]
    outputs = []
    for seed in ("1", "1", "2"):
        assert main([*args, "--seed", seed, "--temperature", "1.5", "--top-k", "0"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] != outputs[2]


def test_a_50k_token_file_streams_with_bounded_state_and_memory(checkpoint, tmp_path):
    path, model = checkpoint
    prompt = tmp_path / "long.txt"
    prompt.write_text(random_text(12_600, seed=9))  # about 50,000 tokens
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "lm2.cli.main", "generate", "--model", str(path), "--file", str(prompt)]
    command += ["--greedy", "--max-new-tokens", "4", "--chunk-size", "1024", "--threads", "1", "--stats"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    stats = json.loads(done.stderr.strip().splitlines()[-1])
    assert stats["prompt_tokens"] > 50_000 and stats["chunks"] > 48 and stats["new_tokens"] == 4
    largest = state_bytes(prefill(model, [torch.randint(4, 300, (1, 15))]))  # 15 of 16 segment columns cached
    assert stats["state_bytes_max"] <= largest
    assert stats["peak_rss_growth_mib"] < 32  # a 50k x 300 fp32 logits tensor alone would be 57 MiB


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--prompt", "Mary", "--greedy", "--top-k", "5"], "drop --top-k"),
        (["--prompt", "Mary", "--temperature", "0"], "--temperature=0.0 must be > 0"),
        (["--prompt", "Mary", "--top-p", "1.5"], r"--top-p=1.5 must be in \(0, 1\]"),
        (["--prompt", "Mary", "--max-new-tokens", "0"], "--max-new-tokens=0"),
        (["--prompt", "", "--no-bos"], "the prompt is empty"),
        (["--file", "missing.txt"], "no prompt file at missing.txt"),
    ],
)
def test_wrong_options_are_named(checkpoint, extra, message, caplog):
    path, _ = checkpoint
    assert main(["generate", "--model", str(path), *extra]) == 2
    assert any(re.search(message, record.getMessage()) for record in caplog.records)


def test_a_model_folder_without_tokenizer_is_named(tmp_path, caplog):
    from tests.conftest import tiny_model

    tiny_model("lm2").save_pretrained(tmp_path)
    assert main(["generate", "--model", str(tmp_path), "--prompt", "Mary"]) == 2
    assert "no tokenizer in" in caplog.text
