"""`lm2 bench gpu`: refuses clearly without CUDA; its code path runs on CPU as a dry run."""

from __future__ import annotations

import json

import pytest
import torch

from lm2.cli.main import main


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_gpu_without_cuda_exits_with_a_clear_message(caplog):
    assert main(["bench", "gpu"]) == 1
    assert "no CUDA device" in caplog.text and "--dry-run" in caplog.text


def test_gpu_dry_run_on_cpu(tmp_path, capsys):
    out = tmp_path / "gpu.json"
    names = ("lm2", "armt", "vanilla-segmented")
    args = ["bench", "gpu", "--dry-run", "--no-compile", "--models", ",".join(names), "--steps", "1"]
    assert main([*args, "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| model | params | mode | tokens/s | MFU | step s | step × vanilla-segmented | FLOPs × |" in table
    result = json.loads(out.read_text())
    assert result["dry_run"] is True and set(result["models"]) == set(names)
    for name in names:
        row = result["models"][name]["eager"]
        assert row["tokens_per_s"] > 0 and 0 < row["mfu"] < 1 and row["params"] > 0
    base = result["models"]["vanilla-segmented"]["eager"]
    ratio = result["models"]["lm2"]["eager"]["flops"] / base["flops"]
    assert ratio > 1 and "| lm2 | " in table and f"| {ratio:.2f} |" in table  # FLOPs over the baseline's
