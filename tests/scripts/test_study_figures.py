"""results/reproduction/amendment29/figures.py: the heatmap shows each row's seeds pooled, and the learning curves
join a run's three fine-tuning stages in order, both read from the shipped results of the study."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import matplotlib.image

R = Path(__file__).parents[2] / "results" / "reproduction"


def load_script():
    spec = importlib.util.spec_from_file_location("amendment29_figures", R / "amendment29" / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def accuracy(path: Path, length: str) -> tuple[float, int]:
    cell = json.loads(path.read_text())["cells"]["qa1"][length]
    return cell["accuracy"], cell["samples"]


def test_each_heatmap_cell_is_its_seeds_questions_pooled():
    rows = load_script().heatmap_rows()
    lm2 = rows["lm2, the delta write (XLBL0, XLBL1)"]
    for column, length in enumerate(("0k", "1k", "2k", "4k", "8k", "16k", "32k", "64k")):
        folder = "amendment29" if length in ("2k", "32k", "64k") else "amendment23"
        cells = [accuracy(R / folder / f"eval-{run}" / "results.json", length) for run in ("XLBL0", "XLBL1")]
        right = sum(a * n for a, n in cells)
        assert math.isclose(lm2[column], 100 * right / sum(n for _, n in cells), abs_tol=1e-9), length
    full = rows["vanilla (full attention, seed 0) (XLBV0)"]
    long = R / "amendment31" / "eval-XLBV0" / "results.json"  # full attention's 32k and 64k, once run
    for column, length in ((6, "32k"), (7, "64k")):
        cell = json.loads(long.read_text())["cells"]["qa1"].get(length, {}) if long.is_file() else {}
        run = cell.get("accuracy") is not None
        assert math.isnan(full[column]) != run, f"a cell is empty exactly when it was not run ({length})"
    assert not math.isnan(full[0])


def test_a_cell_one_seed_lacks_is_left_empty_not_filled_by_the_other(tmp_path, monkeypatch):
    table = load_script()._table()
    for folder, runs in (("amendment23", ("XLBL0", "XLBL1")), ("amendment29", ("XLBL0",))):  # seed 1 lacks 2k-64k
        for run in runs:
            (tmp_path / folder / f"eval-{run}").mkdir(parents=True)
            source = R / folder / f"eval-{run}" / "results.json"
            (tmp_path / folder / f"eval-{run}" / "results.json").write_text(source.read_text())
    monkeypatch.setattr(table, "R", tmp_path)
    cells = table.pooled(("XLBL0", "XLBL1"))
    assert set(cells) == {"0k", "1k", "4k", "8k", "16k"}
    assert table.pooled(("XLBL0", "XLBQ9")) is None, "a run with no amendment 23 results leaves its row unevaluated"


def test_a_learning_curve_joins_the_three_stages_in_order():
    figures = load_script()
    points = figures.curve("XLBL0")
    stages = [R / "amendment20/run-BL0", R / "amendment21/run-LBL0", R / "amendment23/run-XLBL0"]
    evals = [[json.loads(line)["eval"] for line in (s / "metrics.jsonl").read_text().splitlines() if '"eval"' in line]
             for s in stages]  # fmt: skip
    assert len(points) == sum(len(e) for e in evals)
    steps = [p[0] for p in points]
    assert steps == sorted(set(steps)), "steps count on across the stages"
    last = evals[-1][-1]
    assert points[-1][0] == 3000 + 500 + last["step"]
    assert math.isclose(points[-1][1], 100 * last["accuracy"]["qa1/0seg"])
    assert points[-1][3] == "qa1/64seg" and points[0][3] == "qa1/0seg"


def test_the_figures_are_written_as_readable_pngs(tmp_path):
    written = load_script().plot(tmp_path / "figures")
    assert [p.name for p in written] == ["heatmap.png", "learning_curves.png"]
    for path in written:
        assert matplotlib.image.imread(path).shape[0] > 100
    assert not [p for p in (tmp_path / "figures").iterdir() if p.name.startswith(".")], "no temporary file is left"
