"""Output folders that belong to one run. A command that writes a folder (`--out`) never mixes its files
with another run's: the folder records what made it (`lm2_run.json`: the command and its options, or the
command's own record such as `lm2 data babilong`'s manifest); the same command with the same options may
write into it again (resume, or redo identically); anything else is refused with the options that differ,
unless `--overwrite` is given, which clears the folder first. Files are written atomically
(`lm2.files`), so a kill never leaves a half-written file that looks complete."""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Iterable
from pathlib import Path

from lm2.cli.common import UsageError
from lm2.files import differences, write_atomic

RUN_RECORD = "lm2_run.json"
# Options that change how a command runs, not what it writes.
NOT_IDENTITY = {"func", "command", "command_name", "verbose", "overwrite", "threads", "device", "passthrough"}


def add_overwrite_option(parser: argparse._ActionsContainer) -> None:
    parser.add_argument(
        "--overwrite", action="store_true", help="clear --out first when it holds another run's files (else refused)"
    )


def run_options(args: argparse.Namespace, exclude: Iterable[str] = ()) -> dict:
    """The command and the options that decide what it writes, JSON-ready (paths as given)."""
    skip = NOT_IDENTITY | set(exclude)
    options = {k: str(v) if isinstance(v, Path) else v for k, v in sorted(vars(args).items()) if k not in skip}
    return {"command": args.command_name, **options}


def claim_folder(
    out: Path,
    identity: dict,
    overwrite: bool,
    *,
    record: str = RUN_RECORD,
    ignore: Iterable[str] = (),
    write: bool = True,
) -> dict | None:
    """Make `out` this run's folder, or raise `UsageError` naming what differs. `identity`: what made the
    files (compared with `out/record`, leaving out the keys in `ignore`, which may change between runs into
    the same folder). `overwrite` clears `out` first. Writes `record` (`{"options": identity}` for the
    default record) unless `write=False` (the command writes its own). Returns the record found, if any."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder")
    if overwrite and out.exists():
        _clear(out)
    found = _read_record(out / record)
    if found is None and out.is_dir() and any(out.iterdir()):
        raise UsageError(
            f"--out {out} already holds files that no earlier run of this command wrote (no {record}); "
            "use another folder, or --overwrite to clear it first"
        )
    if found is not None:
        saved = found.get("options", found) if record == RUN_RECORD else found
        skip = set(ignore)
        changed = differences({k: v for k, v in saved.items() if k not in skip},
                              {k: v for k, v in identity.items() if k not in skip})  # fmt: skip
        if changed:
            shown = "; ".join(f"{key}: {old!r} then, {new!r} now" for key, old, new in changed[:4])
            raise UsageError(
                f"--out {out} holds the output of another run ({shown}); use another folder, or --overwrite "
                "to clear it first"
            )
    out.mkdir(parents=True, exist_ok=True)
    if write:
        write_record(out, identity)
    return found


def write_record(out: Path, identity: dict) -> None:
    """`out/lm2_run.json`: the options that made the folder."""
    write_atomic(out / RUN_RECORD, json.dumps({"options": identity}, indent=2, default=str) + "\n")


def _read_record(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise UsageError(f"{path} is not valid JSON ({err}); use --overwrite to clear the folder") from None
    if not isinstance(found, dict):
        raise UsageError(f"{path} is not a run record; use --overwrite to clear the folder")
    return found


def _clear(out: Path) -> None:
    """Remove `out` (never the current folder or one above it)."""
    here = Path.cwd().resolve()
    if out.resolve() == here or out.resolve() in here.parents:
        raise UsageError(f"--overwrite would clear {out}, the current folder or one above it; give another --out")
    shutil.rmtree(out)
