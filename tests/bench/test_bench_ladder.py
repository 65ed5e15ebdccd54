"""The memory ladder: every cell scores every length (full attention only within its budget), reports the
memory norm where there is a memory, resumes from its cell files and refuses to mix settings in one folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lm2.bench import ladder
from lm2.bench.ladder import LadderPlan, cell_path, collect, ladder_cell, ladder_table, plot_ladder, run_cell
from lm2.cli.main import main

TINY = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
PLAN = LadderPlan(
    tasks=("recall", "track"), models=("lm2", "vanilla"), seeds=(0,), segment_length=8, train_segments=2,
    multiples=(1, 4), steps=3, samples=8, max_full_tokens=32, backbone={**TINY, "num_memory_tokens": 2},
)  # fmt: skip

ROOT = Path(__file__).resolve().parents[2]


def test_a_cell_scores_each_length_with_its_memory_norm():
    lm2 = ladder_cell(PLAN, "track", "lm2", 0)
    assert set(lm2["accuracy"]) == {1, 4} and all(0 <= a <= 1 for a in lm2["accuracy"].values())
    assert all(n > 0 for n in lm2["norm"].values())
    full = ladder_cell(PLAN, "recall", "vanilla", 0)  # 4x = 64 tokens is past max_full_tokens=32
    assert set(full["accuracy"]) == {1} and full["norm"] == {1: None}
    assert [step for step, _ in lm2["loss_curve"]] == [1, 2, 3]  # the learning curve, one point per step here
    assert set(lm2["shortcut_share"]) == {1, 4} and full["shortcut_share"] == {1: None}  # recall: none


def test_capacity_reports_its_stored_values_shortcut(tmp_path):
    plan = LadderPlan(**{**PLAN.__dict__, "tasks": ("capacity",), "models": ("lm2",), "steps": 2})
    run_cell(plan, "capacity", "lm2", 0, str(tmp_path))
    results = collect(plan, tmp_path)
    shortcut = results["baselines"]["capacity"]["shortcut"]
    assert shortcut.keys() == {"1", "4"} and all(v == pytest.approx(0.4121, abs=1e-4) for v in shortcut.values())
    assert "**capacity** (chance 12.5 %; stored-values shortcut 41 %)" in ladder_table(results)
    share = results["cells"][0]["shortcut_share"]  # how many answers were one of the stored values
    assert share.keys() == {"1", "4"} and all(0 <= v <= 1 for v in share.values())
    assert plot_ladder(results, tmp_path / "ladder.png").stat().st_size > 0


def test_the_loss_curve_averages_equal_windows_and_ends_where_training_stopped():
    from lm2.bench.ladder import loss_curve

    losses = [float(k) for k in range(1, 11)]
    assert loss_curve(losses, 10, points=4) == [[2, 1.5], [5, 4.0], [7, 6.5], [10, 9.0]]
    assert loss_curve(losses[:6], 10, points=4) == [[2, 1.5], [5, 4.0]]  # diverged at step 7
    assert len(loss_curve(losses * 480, 4800)) == 48


def test_cells_resume_from_their_files_and_make_a_table_and_plot(tmp_path):
    for task, model, seed in PLAN.cells():
        run_cell(PLAN, task, model, seed, str(tmp_path))
    results = collect(PLAN, tmp_path)
    assert len(results["cells"]) == 4
    table = ladder_table(results)
    assert "**track** (chance 12.5 %; last-value shortcut" in table and "| lm2 | 1 |" in table
    assert "**recall** (chance 12.5 %)" in table  # one pair: no shortcut
    assert "| vanilla | 1 | " in table and "| — |" in table  # full attention past its budget is not scored
    assert plot_ladder(results, tmp_path / "ladder.png").stat().st_size > 0
    cell_path(tmp_path, "track", "lm2", 0).unlink()
    assert len(collect(PLAN, tmp_path)["cells"]) == 3


def test_command_runs_quick_and_refuses_other_settings_in_the_same_folder(tmp_path, capsys, caplog):
    out = tmp_path / "ladder"
    args = ["bench", "memory", "--quick", "--tasks", "recall", "--models", "lm2", "--train-segments", "2",
            "--segment-length", "8", "--out", str(out), "--workers", "1"]  # fmt: skip
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert [c["model"] for c in results["cells"]] == ["lm2"] and (out / "ladder.png").exists()
    assert main(args) == 0  # resumed: nothing left to train
    assert "1 cells, 1 already done" in capsys.readouterr().out
    assert main([*args[:-4], "--train-segments", "3", *args[-4:]]) == 2
    assert "holds a ladder with other settings (train_segments differ)" in caplog.text
    # --report trains nothing: the table of the cells present, models without cells left out
    cell = out / "cells" / "recall-lm2-seed0.json"
    before = cell.stat().st_mtime_ns
    assert main([*args[:6], "lm2,rmt", *args[7:], "--report", "both"]) == 0
    table = (out / "both.md").read_text()
    assert "| lm2 |" in table and "| rmt |" not in table and (out / "both.png").exists()
    assert cell.stat().st_mtime_ns == before and "already done" not in capsys.readouterr().out
    assert main([*args[:6], "rmt", *args[7:], "--report", "none"]) == 2
    assert "has no cells of --tasks recall and --models rmt" in caplog.text
    assert main([*args, "--report", "../x"]) == 2
    assert "--report='../x' must be a plain file name" in caplog.text


def test_a_cell_of_a_name_whose_model_has_changed_is_refused_or_trained_again(tmp_path, capsys, caplog):
    """Each cell records the fields that define its model; when a name's meaning moves (`lm2` when the defaults
    change), a folder's old cell is not passed off as today's model: the command refuses it naming the fields,
    `--report` too, and `lm2 demo`'s path (`replace_other_settings`) trains it again."""
    from lm2.cli.bench_memory import run_ladder

    out = tmp_path / "ladder"
    args = ["bench", "memory", "--quick", "--tasks", "recall", "--models", "lm2", "--train-segments", "2",
            "--segment-length", "8", "--out", str(out), "--workers", "1"]  # fmt: skip
    assert main(args) == 0
    cell = out / "cells" / "recall-lm2-seed0.json"
    record = json.loads(cell.read_text())
    assert record["config"]["memory_gates"] == "hard" and record["config"]["write_penalty"] == 0.1
    del record["config"]["memory_candidate"]  # recorded before the field existed, when every model read "read"
    cell.write_text(json.dumps(record))
    assert main(args) == 0 and "1 cells, 1 already done" in capsys.readouterr().out
    record["config"].update(memory_gates="sigmoid", forget_floor=0.0)  # as trained before stage 9
    cell.write_text(json.dumps(record))
    assert main(args) == 2
    assert "was trained as another model than 'lm2' is today (forget_floor, memory_gates differ)" in caplog.text
    assert main([*args, "--report", "again"]) == 2
    plan = LadderPlan(tasks=("recall",), models=("lm2",), seeds=(0,), segment_length=8, train_segments=2,
                      multiples=(1, 4), steps=3, samples=8, backbone=TINY)  # fmt: skip
    (out / "settings.json").unlink()  # a plan of other settings: the demo replaces what it needs anyway
    results = run_ladder(plan, out, 1, "test", replace_other_settings=True)
    assert results["cells"][0]["config"]["memory_gates"] == "hard"
    record = json.loads(cell.read_text())
    del record["config"]  # a cell from before cells recorded their model: kept by the command, not by the demo
    cell.write_text(json.dumps(record))
    run_ladder(plan, out, 1, "test")
    assert "config" not in json.loads(cell.read_text())
    run_ladder(plan, out, 1, "test", replace_other_settings=True)
    assert "recall-lm2-seed0.json: records no model (an older cell); training it again" in capsys.readouterr().out
    assert "config" in json.loads(cell.read_text())


def test_a_change_of_lm2_only_fields_marks_lm2_cells_and_no_other(tmp_path):
    """The LM2 bank's fields (gates, price, update) do not act in RMT, ARMT or vanilla: when their defaults move,
    those models' cells still hold today's model; an LM2 cell recorded with other values does not."""
    from lm2.bench.ladder import changed_model, model_fields

    plan = LadderPlan(tasks=("recall",), models=("lm2", "rmt"), seeds=(0,), segment_length=8, train_segments=2,
                      multiples=(1,), steps=3, samples=8, backbone=TINY)  # fmt: skip
    for model in plan.models:
        record = {**model_fields(plan, "recall", model), "write_penalty": 0.0}
        del record["write_penalty_warmup"]  # recorded before the field existed
        path = cell_path(tmp_path, "recall", model, 0)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"config": record}))
    lm2_cell = cell_path(tmp_path, "recall", "lm2", 0)
    assert changed_model(plan, tmp_path) == [(lm2_cell, ["write_penalty", "write_penalty_warmup"])]


def test_the_committed_ladder_cells_still_name_the_models_they_trained():
    """Every cell committed under results/memory records the model it trained; a field added to `LM2Config` since
    (with the value every earlier model had) must not make the ladder refuse them (`LATER_FIELDS`), nor a default
    that stayed put. Checked on each committed ladder folder for the models of its cells that exist today."""
    from lm2.bench.ladder import changed_model, saved_plan
    from lm2.model.variants import VARIANTS

    folders = sorted(p.parent for p in Path("results/memory").glob("*/settings.json"))
    if not folders:
        pytest.skip("no committed ladder folders (run from a checkout's root)")
    checked = 0
    for folder in folders:
        cells = [json.loads(p.read_text()) for p in (folder / "cells").glob("*.json")]
        recorded = [c for c in cells if c.get("config") is not None and c["model"] in VARIANTS]
        models = tuple(sorted({c["model"] for c in recorded}))
        if not models:
            continue
        plan = saved_plan(folder, tasks=tuple(sorted({c["task"] for c in recorded})), models=models,
                          seeds=tuple(sorted({c["seed"] for c in recorded})))  # fmt: skip
        assert changed_model(plan, folder) == [], folder
        checked += 1
    assert checked > 0


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--tasks", "recall,sort", "--tasks='recall,sort' has unknown ['sort']"),
        ("--models", "lm2,mamba", "--models='lm2,mamba' has unknown names ['mamba']"),
        ("--train-segments", "0", "--train-segments=0 must be at least 1"),
        ("--curriculum", "2,4", "curriculum=[2, 4] must rise strictly from at least 1 to train_segments=8"),
        ("--curriculum", "4,2,8", "curriculum=[4, 2, 8] must rise strictly"),
        ("--curriculum", "1,8", "curriculum=[1, 8] starts at 1 segments; the recall task needs at least 2"),
    ],
)
def test_bad_options_are_one_line_errors(option, value, message, caplog, tmp_path):
    assert main(["bench", "memory", option, value, "--out", str(tmp_path)]) == 2
    assert message in caplog.text


def test_a_curriculum_trains_short_inputs_first_in_equal_stages(monkeypatch):
    """`--curriculum 2,4`: the first half of the steps on 2 segments, the second cycling 2..4 (recall); the
    flat plan cycles 2..n throughout, batch k on `lengths[k % len]` as before curricula existed (`lm2 recall
    --mixed-segments` too), so that the cells of earlier ladders are reproduced."""
    import dataclasses

    import lm2.training.recall as recall
    from lm2.data.recall import RecallTask

    seen = []

    class Recording(RecallTask):
        def batch(self, size, generator):
            seen.append(self.segments)
            return super().batch(size, generator)

    monkeypatch.setattr(LadderPlan, "task", lambda plan, name: Recording(pairs=1, segment_length=8, segments=4))
    plan = dataclasses.replace(PLAN, tasks=("recall",), models=("lm2",), train_segments=4, steps=8,
                               curriculum=(2, 4), multiples=(1,))  # fmt: skip
    assert plan.train_stages("recall") == [[2], [2, 3, 4]]
    ladder_cell(plan, "recall", "lm2", 0)
    assert seen[:8] == [2, 2, 2, 2, 4, 2, 3, 4]  # training batches; then the held-out questions at 4 segments
    flat = dataclasses.replace(plan, curriculum=())
    assert flat.train_stages("recall") == [[2, 3, 4]]
    assert [recall.curriculum_segments(k, 8, flat.train_stages("recall")) for k in range(1, 9)] == [
        [2, 3, 4][k % 3] for k in range(1, 9)
    ]
    assert [recall.curriculum_segments(k, 10, [[1], [2], [3]]) for k in range(1, 11)] == [1] * 4 + [2] * 3 + [3] * 3
    with pytest.raises(ValueError, match=r"curriculum=\[\[2\], \[\]\] has an empty stage"):
        recall.train_recall(None, None, 1, curriculum=[[2], []])


def test_a_ladder_saved_before_curricula_is_the_flat_plan(tmp_path, caplog):
    """A settings.json written before the `curriculum` setting existed holds a one-stage ladder: the flat plan
    resumes it, a curriculum plan is refused."""
    out = tmp_path / "ladder"
    args = ["bench", "memory", "--quick", "--tasks", "track", "--models", "lm2", "--train-segments", "2",
            "--segment-length", "8", "--out", str(out), "--workers", "1"]  # fmt: skip
    assert main(args) == 0
    saved = json.loads((out / "settings.json").read_text())
    assert saved.pop("curriculum") == []
    (out / "settings.json").write_text(json.dumps(saved))
    assert main([*args, "--report", "again"]) == 0
    assert main([*args, "--curriculum", "1,2"]) == 2
    assert "holds a ladder with other settings (curriculum differ)" in caplog.text
    assert ladder.saved_plan(out).curriculum == ()  # the plan a script reads back from the folder: the flat one


def test_saved_plan_reads_back_the_plan_that_trained_a_folder():
    """`saved_plan` (how the study scripts train a cell as its folder's were trained) gives the plan whose settings
    the folder holds: every repository ladder reads back to the settings it saved, with the fields asked for."""
    for folder in ("ladder-curriculum16", "ladder-curriculum16-steps9600", "ladder-train16"):
        out = ROOT / "results" / "memory" / folder
        plan = ladder.saved_plan(out, tasks=("track",), seeds=(4,))
        saved = json.loads((out / "settings.json").read_text())
        assert json.loads(json.dumps(ladder.settings(plan))) == saved and plan.seeds == (4,)
    assert ladder.saved_plan(ROOT / "results" / "memory" / "ladder-curriculum16").curriculum == (2, 4, 8, 16)


def test_memory_norm_reads_each_architectures_memory():
    import torch

    from lm2.training.recall import memory_norm
    from tests.conftest import random_ids, tiny_model

    norms = {}
    for arch in ("lm2", "rmt", "armt", "vanilla"):
        state = tiny_model(arch, initializer_range=0.2)(random_ids(2, 13)).memory
        norms[arch] = memory_norm(state)
    bank = tiny_model("lm2", initializer_range=0.2)(random_ids(2, 13)).memory.memory
    assert norms["lm2"] == pytest.approx(float(bank.detach().norm(dim=-1).mean()))  # rows of the bank
    assert norms["rmt"] > 0 and norms["armt"] > 0 and norms["vanilla"] is None
    assert isinstance(norms["armt"], float) and torch.isfinite(torch.tensor(norms["armt"]))


def test_a_diverging_run_stops_before_its_update_and_the_table_names_it(tmp_path, monkeypatch):
    import math

    import lm2.training.recall as recall
    from lm2.model import LM2ForCausalLM

    class Diverging(LM2ForCausalLM):  # the third training batch's loss is NaN
        calls = 0

        def forward(self, *args, **kwargs):
            out = super().forward(*args, **kwargs)
            if self.training:
                Diverging.calls += 1
                if Diverging.calls == 3:
                    out.loss = out.loss * math.nan
            return out

    monkeypatch.setattr(recall, "LM2ForCausalLM", Diverging)
    cell = ladder_cell(PLAN, "recall", "lm2", 1)
    assert cell["diverged_at"] == 3 and math.isfinite(cell["final_loss"])  # two finite steps were taken
    assert all(math.isfinite(a) for a in cell["accuracy"].values())  # scored with the last finite weights
    path = cell_path(tmp_path, "recall", "lm2", 1)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(cell))
    plan = LadderPlan(**{**PLAN.__dict__, "tasks": ("recall",), "models": ("lm2",), "seeds": (1,)})
    assert "| lm2 | 1 (s1 diverged at step 3) |" in ladder_table(collect(plan, tmp_path))
    old = {**cell, "diverged_at": None, "final_loss": math.nan}  # a cell file from before `diverged_at`
    path.write_text(json.dumps(old))
    assert "| lm2 | 1 (s1 diverged) |" in ladder_table(collect(plan, tmp_path))


def test_kill_stops_the_workers_too(tmp_path):
    """`kill` (SIGTERM) of `lm2 bench memory` ends its worker processes as well: none trains on, orphaned,
    into the folder (Python's default SIGTERM would leave the workers running), and the fork server ends."""
    argv = [sys.executable, "-m", "lm2.cli.main", "bench", "memory", "--tasks", "recall", "--models", "lm2",
            "--seeds", "0", "--train-segments", "2", "--segment-length", "8", "--steps", "100000",
            "--workers", "1", "--out", str(tmp_path / "ladder")]  # fmt: skip
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    deadline, servers, workers = time.time() + 120, [], []
    while not workers and time.time() < deadline:  # lm2's fork server and its fork, the worker
        time.sleep(0.2)
        servers = [pid for pid in _descendants(proc.pid) if b"multiprocessing.forkserver" in _cmdline(pid)]
        workers = [pid for server in servers for pid in _descendants(server)]
    assert workers, "no worker process was started"
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    deadline, alive = time.time() + 10, workers + servers  # the server ends once it sees the command gone
    while alive and time.time() < deadline:
        time.sleep(0.2)
        alive = [pid for pid in alive if Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)]
    assert not alive, f"worker processes {alive} outlived the command"


def _descendants(pid: int) -> list[int]:
    """The processes below `pid`: its children, theirs, and so on (a worker is a child of the fork server)."""
    try:
        children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return [p for child in children for p in (child, *_descendants(child))]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "Z"
