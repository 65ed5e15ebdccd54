"""`lm2 bench train-memory`: one training step per (model, segments, checkpointing), each in a fresh
process, with its memory growth and a finite loss."""

from __future__ import annotations

import json
import math

from lm2.cli.main import main


def test_train_memory_quick_run_with_plot(tmp_path, capsys):
    out, plot = tmp_path / "train_memory.json", tmp_path / "train_memory.png"
    args = ["bench", "train-memory", "--quick", "--models", "lm2,rmt", "--segments", "1,4"]
    assert main([*args, "--json", str(out), "--plot", str(plot)]) == 0
    assert "4 seg ckpt" in capsys.readouterr().out
    assert plot.stat().st_size > 1000
    result = json.loads(out.read_text())
    for name in ("lm2", "rmt"):
        steps = result["models"][name]["steps"]
        assert set(steps) == {"1/full", "1/ckpt", "4/full", "4/ckpt"}
        for row in steps.values():
            assert row["status"] == "ok" and math.isfinite(row["loss"])
            assert row["peak_rss_mib"] >= row["rss_before_mib"] > 0 and row["step_peak_mib"] >= 0
