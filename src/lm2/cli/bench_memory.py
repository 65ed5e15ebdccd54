"""`lm2 bench memory`: the memory ladder (DESIGN §8, `lm2.bench.ladder`) for any list of model variants.

Every (task, model, seed) cell trains a tiny model on mixed input lengths up to `--train-segments` segments
and scores it at 1x, 4x, 16x, 64x and 256x that length, two cells at a time (`--workers`), each in its own
process. Cells are written to `OUT/cells/` as they finish: a killed run, started again with the same
settings, runs only the cells it lacks; other tasks, models or seeds can be added to the same folder later.
Writes `OUT/results.json`, `OUT/ladder.md` and `OUT/ladder.png`. `--report NAME` trains nothing: it writes
`OUT/NAME.md` and `OUT/NAME.png` from the cells of these settings already in OUT (a table of several runs
into one folder; task/model pairs without cells are left out).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from lm2.cli.common import UsageError, add_command


def add_memory(sub: argparse._SubParsersAction) -> None:
    what = "the memory ladder: recall, capacity and track, scored far beyond the training length"
    p = add_command(sub, "memory", _run_memory, what, __doc__)
    p.add_argument("--tasks", default="recall,capacity,track", help="comma-separated, from recall, capacity, track")
    p.add_argument("--models", default="lm2,lm2-paper,rmt", help="model variants (lm2.model.variants), comma-separated")
    p.add_argument("--seeds", default="0,1", help="comma-separated seeds")
    p.add_argument("--train-segments", type=int, default=8, help="longest training input, in segments")
    p.add_argument(
        "--curriculum", default="", metavar="N1,N2,...",
        help="stage maxima in segments (e.g. 2,4,8,16, the last = --train-segments): the steps split into equal "
        "stages, stage i training on 1 (recall, capacity: 2)..Ni segments; default: one stage",
    )  # fmt: skip
    p.add_argument("--segment-length", type=int, default=16)
    p.add_argument("--multiples", default="1,4,16,64,256", help="evaluated lengths, as multiples of the training one")
    p.add_argument("--steps", type=int, default=600, help="training steps of batch 32 per cell")
    p.add_argument("--samples", type=int, default=128, help="held-out questions per length")
    p.add_argument("--workers", type=int, default=2, help="cells trained side by side, one CPU thread each")
    p.add_argument("--out", type=Path, default=Path("runs/ladder"), help="folder of the cells and results")
    p.add_argument("--quick", action="store_true", help="a smoke run: 30 steps, one seed, lengths 1x and 4x")
    p.add_argument(
        "--report", metavar="NAME", help="train nothing: write OUT/NAME.md and OUT/NAME.png from the cells in OUT"
    )


def plan_from_args(args: argparse.Namespace):
    from lm2.bench.common import parse_ints, parse_list
    from lm2.bench.ladder import TASKS, LadderPlan
    from lm2.model.variants import parse_variants

    for name in ("train_segments", "segment_length", "steps", "samples", "workers"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')}={getattr(args, name)} must be at least 1")
    plan = LadderPlan(
        tasks=tuple(parse_list(args.tasks, TASKS, "--tasks")),
        models=tuple(parse_variants(args.models, "--models")),
        seeds=tuple(parse_ints(args.seeds, "--seeds")),
        segment_length=args.segment_length,
        train_segments=args.train_segments,
        curriculum=tuple(parse_ints(args.curriculum, "--curriculum")) if args.curriculum else (),
        multiples=tuple(parse_ints(args.multiples, "--multiples")),
        steps=args.steps,
        samples=args.samples,
    )
    if args.quick:
        plan = dataclasses.replace(plan, seeds=plan.seeds[:1], steps=30, samples=16, multiples=(1, 4))
    for task in plan.tasks:
        plan.train_stages(task)  # a task that does not fit the segments fails here, before any training
    return plan


def other_settings(plan, out: Path) -> str:
    """The names of the settings in which the ladder saved in `out` differs from `plan` ('' when none is saved
    or they agree)."""
    from lm2.bench.ladder import LATER_SETTINGS, settings
    from lm2.files import differences

    saved = out / "settings.json"
    differ = differences({**LATER_SETTINGS, **json.loads(saved.read_text())}, settings(plan)) if saved.exists() else []
    return ", ".join(key for key, _, _ in differ)


def check_models(plan, out: Path, replace: bool) -> None:
    """Cells under `out` whose recorded model is not what their name means today (a default moved): refused
    (`UsageError` naming the file and the fields), or with `replace` removed so that they are trained again —
    with `replace`, also cells too old to record their model (`lm2 demo` then retrains rather than guess)."""
    from lm2.bench.ladder import changed_model

    for path, fields in changed_model(plan, out, unrecorded=replace):
        if not replace:
            name = json.loads(path.read_text())["model"]
            raise UsageError(f"{path} was trained as another model than {name!r} is today ({', '.join(fields)} "
                             "differ); rename or remove it, or give another --out")  # fmt: skip
        why = "records no model (an older cell)" if fields == ["config"] else f"{', '.join(fields)} differ"
        print(f"{path.name}: {why}; training it again")
        path.unlink()


def run_ladder(plan, out: Path, workers: int, command: str, replace_other_settings: bool = False) -> dict:
    """Run the cells of `plan` that `out` lacks, two processes at a time, and write `out/results.json`; returns
    the results. A folder holding cells of other settings, or cells whose recorded model is not the one their
    name means today, is refused (`UsageError`), or with `replace_other_settings` those cells are dropped and
    trained again (`lm2 demo`)."""
    from lm2.bench.ladder import cell_path, collect, run_cell, settings
    from lm2.cli.jobs import run_jobs
    from lm2.files import write_atomic

    out.mkdir(parents=True, exist_ok=True)
    differ = other_settings(plan, out)
    if differ and not replace_other_settings:
        raise UsageError(f"--out {out} holds a ladder with other settings ({differ} differ); "
                         "give another --out or the same settings")  # fmt: skip
    for cell in plan.cells() if differ else []:
        cell_path(out, *cell).unlink(missing_ok=True)
    check_models(plan, out, replace_other_settings)
    write_atomic(out / "settings.json", json.dumps(settings(plan), indent=1))
    todo = [cell for cell in plan.cells() if not cell_path(out, *cell).exists()]
    print(f"memory ladder: {len(plan.cells())} cells, {len(plan.cells()) - len(todo)} already done, in {out}")
    jobs = {f"{t}/{m}/s{s}": (run_cell, {"plan": plan, "task": t, "model": m, "seed": s, "out": str(out)})
            for t, m, s in todo}  # fmt: skip
    run_jobs(jobs, dict.fromkeys(jobs, plan.steps), workers, command)
    results = collect(plan, out)
    write_atomic(out / "results.json", json.dumps(results, indent=1))
    return results


def report(plan, out: Path) -> dict:
    """The finished cells of `plan` in `out`, training nothing; `UsageError` when `out` holds no ladder of
    these settings."""
    from lm2.bench.ladder import collect

    if not (out / "settings.json").exists():
        raise UsageError(f"--out {out} holds no memory ladder (no settings.json); run it without --report first")
    differ = other_settings(plan, out)
    if differ:
        raise UsageError(f"--out {out} holds a ladder with other settings ({differ} differ); "
                         "give the settings it was run with")  # fmt: skip
    check_models(plan, out, replace=False)
    results = collect(plan, out)
    if not results["cells"]:
        raise UsageError(f"--out {out} has no cells of --tasks {','.join(plan.tasks)} and --models "
                         f"{','.join(plan.models)}")  # fmt: skip
    return results


def _run_memory(args: argparse.Namespace) -> int:
    from lm2.bench.ladder import ladder_table, plot_ladder
    from lm2.files import write_atomic

    plan, name = plan_from_args(args), args.report or "ladder"
    if Path(name).name != name or name in ("settings", "results"):
        raise UsageError(f"--report={name!r} must be a plain file name (not settings or results)")
    command = "lm2 bench memory"
    results = report(plan, args.out) if args.report else run_ladder(plan, args.out, args.workers, command)
    table = ladder_table(results)
    write_atomic(args.out / f"{name}.md", table + "\n")
    plot_ladder(results, args.out / f"{name}.png")
    print(table)
    written = [] if args.report else [args.out / "results.json"]
    print(f"\nwrote {', '.join(str(p) for p in [*written, args.out / f'{name}.md', args.out / f'{name}.png'])}")
    return 0
