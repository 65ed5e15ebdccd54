"""scripts/backbone_study.sh: each chain runs the registered stages it lacks, in order, skips what results/ holds,
and a failed stage ends its own chain only; run again, it does what is left and drops the stage's parked copy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "scripts" / "backbone_study.sh"
STUB = """#!/bin/bash
# a stand-in for a registered run script: records the call, fails for $FAIL, else writes complete results
set -eu
echo "$(basename $(dirname $0)) $1" >> calls.txt
[ "$1" != "${FAIL:-}" ] || exit 3
d=$(dirname $0)
mkdir -p $d/eval-$1 $d/persons-$1 $d/run-$1
for out in eval persons; do echo '{"tasks": ["qa1"], "lengths": ["0k"], "accuracy": {"qa1": {"0k": 0.5}}}' \\
  > $d/$out-$1/results.json; done
"""


def results(root: Path, amendment: str, name: str, lengths=("0k",), done=("0k",)) -> None:
    for out in ("eval", "persons"):
        path = root / "results" / "reproduction" / amendment / f"{out}-{name}" / "results.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        cells = {length: 0.5 for length in done}
        path.write_text(json.dumps({"tasks": ["qa1"], "lengths": list(lengths), "accuracy": {"qa1": cells}}))


@pytest.fixture
def study(tmp_path):
    shutil.copytree(SCRIPT.parent, tmp_path / "scripts")
    for amendment in ("amendment19", "amendment20", "amendment21", "amendment23"):
        folder = tmp_path / "results" / "reproduction" / amendment
        folder.mkdir(parents=True)
        (folder / "run.sh").write_text(STUB)
    (tmp_path / "results/reproduction/amendment19/run-VS0/model").mkdir(parents=True)
    (tmp_path / "results/reproduction/amendment19/run-VS0/model/config.json").write_text("{}")
    for part in ("pretrain", "heldout"):
        (tmp_path / "runs/reproduction/books" / part).mkdir(parents=True)
    return tmp_path


def run(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "scripts/backbone_study.sh", *args], cwd=root, capture_output=True, text=True,
                          env={**os.environ, **env})  # fmt: skip


def test_dry_run_lists_only_the_stages_results_lack_in_chain_order(study):
    results(study, "amendment20", "BL0")
    results(study, "amendment21", "LBL0", lengths=("0k", "16k"))  # an evaluation killed before its 16k cell
    results(study, "amendment20", "BR0")
    results(study, "amendment21", "LBR0")
    results(study, "amendment23", "XLBR0")
    out = run(study, "--dry-run", "XLBL0", "XLBR0")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "bash results/reproduction/amendment21/run.sh LBL0",
        "bash results/reproduction/amendment23/run.sh XLBL0",
    ]
    assert not (study / "calls.txt").exists()


def test_a_failed_stage_ends_its_chain_the_others_finish_and_a_rerun_does_the_rest(study):
    parked = study / "results" / "parked" / "reproduction" / "amendment21" / "LBR0"  # a copy of a stopped stage
    parked.mkdir(parents=True)
    (parked / "config.yaml").write_text("")
    out = run(study, "--jobs", "2", "XLBL0", "XLBR0", FAIL="LBR0")
    assert out.returncode == 1 and "not finished: XLBR0" in out.stderr
    calls = (study / "calls.txt").read_text().splitlines()
    assert [c for c in calls if c.endswith("L0")] == ["amendment20 BL0", "amendment21 LBL0", "amendment23 XLBL0"]
    assert [c for c in calls if c.endswith("R0")] == ["amendment20 BR0", "amendment21 LBR0"]
    assert "failed (exit 3)" in (study / "logs" / "study-XLBR0.log").read_text()
    assert parked.is_dir()  # kept while its stage is unfinished

    (study / "calls.txt").unlink()
    out = run(study, "XLBL0", "XLBR0")
    assert out.returncode == 0, out.stderr
    assert (study / "calls.txt").read_text().splitlines() == ["amendment21 LBR0", "amendment23 XLBR0"]
    assert not parked.exists()  # removed once the stage's results are in


def test_an_unknown_run_is_refused_naming_it(study):
    out = run(study, "XLBZ0")
    assert out.returncode == 2 and "XLBZ0 is not a run" in out.stderr
