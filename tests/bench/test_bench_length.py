"""`lm2 bench length`: streaming runs in fresh processes; lm2 and rmt keep a constant state, full attention
stops at the caps instead of crashing, and the 1M-token path with its fit and peak ratio works."""

from __future__ import annotations

import json

from lm2.bench.length import length_table, run_length
from lm2.cli.main import main

# One wide segment per 1024 tokens keeps a 1M-token stream of a tiny model to a few seconds.
TINY_LONG = dict(
    vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
    num_key_value_heads=1, segment_length=1024, num_memory_tokens=2,
)  # fmt: skip


def test_length_quick_run_with_plot(tmp_path, capsys):
    out, plot = tmp_path / "length.json", tmp_path / "length.png"
    args = ["bench", "length", "--quick", "--lengths", "1k,4k", "--chunk", "1024"]
    assert main([*args, "--json", str(out), "--plot", str(plot)]) == 0
    assert "peak RSS during the stream" in capsys.readouterr().out
    assert plot.stat().st_size > 1000
    result = json.loads(out.read_text())
    assert result["flush_denormal"] is True
    for name in ("lm2", "rmt", "vanilla"):
        rows = result["models"][name]["lengths"]
        assert set(rows) == {"1024", "4096"}
        assert all(r["status"] == "ok" and r["seconds"] > 0 and r["peak_rss_mib"] > 0 for r in rows.values())
        assert "time_fit" in result["models"][name]
    for name in ("lm2", "rmt"):  # the state does not grow with the input
        rows = result["models"][name]["lengths"]
        assert rows["1024"]["state_bytes"] == rows["4096"]["state_bytes"] > 0
    vanilla = result["models"]["vanilla"]["lengths"]
    offset = 8  # the state's (b,) int64 offsets: the same at every length
    assert vanilla["4096"]["state_bytes"] - offset == 4 * (vanilla["1024"]["state_bytes"] - offset)  # the KV cache


def test_one_million_tokens_and_the_caps():
    result = run_length(["lm2", "vanilla"], [4096, 2**20], TINY_LONG, chunk=2**16, time_cap_s=60)
    lm2 = result["models"]["lm2"]
    assert lm2["lengths"][str(2**20)]["status"] == "ok"
    assert lm2["longest_measured"] == 2**20 and lm2["peak_ratio_1m_4k"] > 0
    assert isinstance(lm2["peak_target_met"], bool) and lm2["time_fit"]["slope"] > 0
    million = result["models"]["vanilla"]["lengths"][str(2**20)]
    assert million["status"] == "over time cap" and million["projected_s"] > 60  # quadratic projection
    assert "1M" in length_table(result) and "peak(1M)/peak(4k)" in length_table(result)


def test_full_attention_reports_does_not_fit_under_a_small_cap():
    # No time cap: on a loaded machine the projection from 1,024 tokens could pass one before the memory cap.
    caps = {"memory_cap_gib": 0.02, "time_cap_s": 3600.0}
    result = run_length(["vanilla"], [1024, 2**16, 2**18], TINY_LONG, chunk=2**14, **caps)
    rows = result["models"]["vanilla"]["lengths"]
    assert rows["1024"]["status"] == "ok"
    assert rows[str(2**16)]["status"] == "does not fit"
    assert rows[str(2**18)]["status"].startswith("not run (does not fit")
