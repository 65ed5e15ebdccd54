"""`lm2 bench overhead`: every model gets a training and an inference time, a FLOP ratio and a time ratio
against the memory-less baseline, and lm2 gets its verdict on the issue's target."""

from __future__ import annotations

import json

import pytest

from lm2.bench.common import BASELINE
from lm2.cli.main import main


def test_overhead_quick_run_writes_every_field(tmp_path, capsys):
    out = tmp_path / "overhead.json"
    assert main(["bench", "overhead", "--quick", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| model | params | FLOP ratio |" in table and "target <= 1.15" in table
    result = json.loads(out.read_text())
    assert result["benchmark"] == "overhead" and result["machine"]["torch_threads"] == 1
    models = result["models"]
    assert set(models) == {"lm2", "rmt", "vanilla-segmented", "vanilla"}
    assert models[BASELINE]["flop_ratio"] == 1.0  # x / x in Python floats: exactly 1.0 on any CPU
    assert models["lm2"]["flop_ratio"] > 1.0 and models["rmt"]["flop_ratio"] > 1.0
    assert models["lm2"]["params"] > models[BASELINE]["params"] == models["vanilla"]["params"]
    for row in models.values():
        for phase in ("train", "infer"):
            assert row[phase]["tokens_per_s"] > 0 and row[phase]["time_ratio"] > 0
            assert len(row[phase]["all_seconds"]) == result["repeats"][phase]
    assert models[BASELINE]["train"]["time_ratio"] == 1.0  # its own times over its own times: x / x
    assert set(result["target_met"]) == {"train", "infer"}


def test_overhead_adds_the_baseline_and_rejects_unknown_models(tmp_path, caplog):
    out = tmp_path / "o.json"
    assert main(["bench", "overhead", "--quick", "--models", "lm2", "--json", str(out)]) == 0
    assert set(json.loads(out.read_text())["models"]) == {"lm2", BASELINE}
    assert main(["bench", "overhead", "--quick", "--models", "lm3"]) == 2
    assert "lm3" in caplog.text


@pytest.mark.parametrize("command", ["overhead", "reference", "length", "train-memory", "gpu"])
def test_help_on_every_subcommand(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", command, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: lm2 bench {command}")
