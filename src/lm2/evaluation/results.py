"""The results layout of an evaluation folder, and its atomic writes.

```
OUT/results.json                                              accuracy matrix, per-cell records, run metadata
OUT/qa1_0k_instruction_no_examples_no_post_prompt_no.csv      target,output,question per sample
OUT/heatmap.png                                               tasks x lengths, accuracy in percent
```

The CSV names are BABILong's (`scripts/run_model_on_babilong.py` writes
`<results>/<model>/<task>_<length>_<prompt name>.csv`; our prompt has no instruction, no examples and no
post-prompt), so BABILong's notebooks read our folders as they read theirs. Every file is written to a
temporary name in the same folder and renamed over the old one (`os.replace`), so an interrupted run
leaves either the previous or the new version, never half a file.

`results.json` is tied to one `identity` (the model's weights and tokenizer, the samples' source, the
metric mode, the decoding settings). The task and length lists may grow between runs into the same
folder; any other difference is an error, never a silent mix.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from lm2.data import parse_length
from lm2.files import differences, write_atomic

FORMAT = "lm2-babilong-results/1"
RESULTS_FILE = "results.json"
HEATMAP_FILE = "heatmap.png"
PROMPT_NAME = "instruction_no_examples_no_post_prompt_no"  # BABILong's name for a bare context+question
CSV_COLUMNS = ("target", "output", "question")
DONE, OOM = "done", "oom"


def csv_name(task: str, length: str) -> str:
    return f"{task}_{length}_{PROMPT_NAME}.csv"


def write_csv(path: Path, targets: list[str], outputs: list[str], questions: list[str]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(zip(targets, outputs, questions, strict=True))
    write_atomic(path, buffer.getvalue())


def read_csv(path: str | Path) -> list[dict[str, str]]:
    """The rows of a cell's CSV (ours, or BABILong's with its leading index column)."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and not set(CSV_COLUMNS) <= set(rows[0]):
        raise ValueError(f"{path}: expected columns {', '.join(CSV_COLUMNS)}, found {', '.join(rows[0])}")
    return [{k: row[k] or "" for k in CSV_COLUMNS} for row in rows]


def new_results(identity: dict, metadata: dict) -> dict:
    return {"format": FORMAT, "identity": identity, **metadata, "tasks": [], "lengths": [], "accuracy": {},
            "cells": {}, "sessions": [], "wall_seconds": 0.0}  # fmt: skip


def read_results(out: Path) -> dict | None:
    """The results.json of an evaluation folder, or None when there is none."""
    path = out / RESULTS_FILE
    return load_results(path) if path.is_file() else None


def load_results(path: str | Path) -> dict:
    """A results.json written by `lm2 eval` (a folder means its results.json)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no results file at {path} (lm2 eval writes OUT/{RESULTS_FILE})")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(results, dict) or results.get("format") != FORMAT:
        found = results.get("format") if isinstance(results, dict) else type(results).__name__
        raise ValueError(f"{path} is not an lm2 eval results file (format {found!r}, expected {FORMAT!r})")
    return results


def check_identity(results: dict, identity: dict, out: Path) -> None:
    """Raise ValueError naming the first differences when `results` belong to another evaluation."""
    found = differences(results["identity"], identity)
    if found:
        shown = "; ".join(f"{key}: {old!r} in results.json vs {new!r} now" for key, old, new in found[:3])
        raise ValueError(
            f"{out / RESULTS_FILE} holds results of a different evaluation ({shown}); "
            "use another output folder or delete that one"
        )


def record_cell(results: dict, task: str, length: str, record: dict) -> None:
    """Put a cell's record and accuracy into `results`, keeping tasks and lengths in their natural order."""
    if task not in results["tasks"]:
        results["tasks"] = sorted([*results["tasks"], task], key=lambda t: int(t[2:]))
    if length not in results["lengths"]:
        results["lengths"] = sorted([*results["lengths"], length], key=parse_length)
    results["cells"].setdefault(task, {})[length] = record
    results["accuracy"] = {
        t: {n: results["cells"][t][n]["accuracy"] for n in results["lengths"] if n in results["cells"].get(t, {})}
        for t in results["tasks"]
    }


def is_done(results: dict | None, out: Path, task: str, length: str, max_tokens: int | None = None) -> bool:
    """A cell counts as finished when it was scored and its CSV is still there, or when it was left out for
    prompts over the same `max_tokens` (a full-attention guard: the same samples would be left out again).
    Out-of-memory cells are tried again: a real OOM shows on the first batch."""
    record = (results or {}).get("cells", {}).get(task, {}).get(length)
    if record and max_tokens is not None and record.get("over_max_tokens") == max_tokens:
        return True
    return bool(record) and record["status"] == DONE and (out / record["csv"]).is_file()


def save_results(out: Path, results: dict) -> None:
    write_atomic(out / RESULTS_FILE, json.dumps(results, indent=2, ensure_ascii=False) + "\n")
