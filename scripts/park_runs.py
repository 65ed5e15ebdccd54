"""Carry unfinished training runs from one checkout of the repository to the next.

`runs/` is not in the repository, so a run stopped at a checkpoint for a session's end is gone from a new
checkout. `park` copies what resuming a run needs — its `config.yaml`, `metrics.jsonl` and newest complete
checkpoint (weights, tokenizer, `trainer.pt`: optimiser, schedule, RNG and data state) — to
`results/parked/<the run's path under runs/>`, to be committed. In the next checkout `unpark` copies every
parked run back to `runs/` (never over a checkpoint there at the same or a later step), and the run's own
command then resumes it exactly (`lm2 train` continues the newest checkpoint of its `run.out`). `drop`
removes a parked run once its command has finished and its results are in.

    python scripts/park_runs.py park runs/reproduction/amendment23/XLBQ0 runs/reproduction/amendment23/XLBQ1
    python scripts/park_runs.py unpark
    python scripts/park_runs.py drop reproduction/amendment23/XLBQ0
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from lm2.files import atomic_folder
from lm2.training.checkpoint import PREFIX, latest_checkpoint
from lm2.training.resume import CONFIG_FILE

RUNS = Path("runs")
PARKED = Path("results/parked")
RUN_FILES = (CONFIG_FILE, "metrics.jsonl")


def step_of(checkpoint: Path | None) -> int:
    return -1 if checkpoint is None else int(checkpoint.name[len(PREFIX) :])


def copy_run(source: Path, checkpoint: Path, dest: Path) -> None:
    """`dest` (created or added to) gets the run files of `source` and a copy of `checkpoint`."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, dest / name)
    with atomic_folder(dest / checkpoint.name) as tmp:
        shutil.copytree(checkpoint, tmp, dirs_exist_ok=True)


def park(run: Path, runs: Path = RUNS, parked: Path = PARKED) -> Path:
    """Copy `run`'s resume state to `parked`; returns the parked folder (replaced whole if it existed)."""
    run = Path(run)
    try:
        name = run.resolve().relative_to(runs.resolve())
    except ValueError:
        raise SystemExit(f"run={run} is not under {runs}/; park takes a run folder under it") from None
    checkpoint = latest_checkpoint(run)
    if checkpoint is None or not (run / CONFIG_FILE).is_file():
        raise SystemExit(f"run={run} holds no complete checkpoint and {CONFIG_FILE} to park")
    with atomic_folder(parked / name) as tmp:
        copy_run(run, checkpoint, tmp)
    return parked / name


def parked_runs(parked: Path = PARKED) -> list[Path]:
    return sorted(p.parent for p in parked.rglob(CONFIG_FILE) if latest_checkpoint(p.parent) is not None)


def unpark(runs: Path = RUNS, parked: Path = PARKED) -> list[tuple[Path, str]]:
    """Copy each parked run back under `runs`; returns (run folder, what was done) for each."""
    done = []
    for source in parked_runs(parked):
        checkpoint, dest = latest_checkpoint(source), runs / source.relative_to(parked)
        there = latest_checkpoint(dest) if dest.is_dir() else None
        if step_of(there) >= step_of(checkpoint):
            done.append((dest, f"kept: it holds {there.name}, the parked copy {checkpoint.name}"))
            continue
        copy_run(source, checkpoint, dest)
        done.append((dest, f"restored at {checkpoint.name}"))
    return done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("park", help="copy runs' resume state to results/parked/").add_argument("runs", nargs="+", type=Path)
    sub.add_parser("unpark", help="copy every parked run back to runs/")
    sub.add_parser("drop", help="remove parked runs (names under results/parked/)").add_argument("names", nargs="+")
    args = parser.parse_args(argv)
    if args.command == "park":
        for run in args.runs:
            dest = park(run)
            print(f"{run}: parked {latest_checkpoint(dest).name} in {dest}")
    elif args.command == "unpark":
        for dest, what in unpark() or [(PARKED, "nothing parked")]:
            print(f"{dest}: {what}")
    else:
        for name in args.names:
            if not (PARKED / name / CONFIG_FILE).is_file():
                names = [str(p.relative_to(PARKED)) for p in parked_runs()]
                raise SystemExit(f"name={name} is not a parked run; parked runs: {names}")
            shutil.rmtree(PARKED / name)
            print(f"{PARKED / name}: removed")


if __name__ == "__main__":
    main()
