"""`evaluate`: a model on every task × length cell of a BABILong source, resumable, into one folder.

Per cell: load the samples, build the prompts `<s> {input} {question} <ans>` (`encode_sample`), decode
the answers greedily in batches with the model's cache (`generate_answers`), score them with the BABILong
metric, score the baselines on the same samples (and, where the samples carry their stories' statements, the
model on the questions whose answer is not the latest statement's place: `latest_fact_wrong`), then write the
cell's CSV and `results.json` (see `lm2.evaluation.results` for the layout and the resume rule).

Out of memory is a result, not a crash: a batch that raises `torch.OutOfMemoryError` is retried at half
the batch size, and a cell that does not fit even one sample at a time is recorded as `oom`. A model
whose attention spans the whole input (vanilla `full`) can be given `max_tokens`: a cell with a longer
prompt is recorded as `oom` without running, which is the only guard on a CPU (where running out of
memory ends the process instead of raising).
"""

from __future__ import annotations

import gc
import hashlib
import importlib.metadata
import logging
import platform
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch

from lm2.data import MODES, encode_sample
from lm2.data.tokenizer import tokenizer_fingerprint
from lm2.evaluation.answers import (
    accuracy,
    baseline_accuracies,
    generate_answers,
    latest_fact_wrong,
    several_answers,
)
from lm2.evaluation.report import plot_heatmaps
from lm2.evaluation.results import (
    DONE,
    HEATMAP_FILE,
    OOM,
    check_identity,
    csv_name,
    is_done,
    new_results,
    read_results,
    record_cell,
    save_results,
    write_csv,
)
from lm2.evaluation.sources import SampleSource
from lm2.files import differences

logger = logging.getLogger(__name__)

PROMPT = "<s> {input} {question} <ans>"  # encode_sample's layout; the answer is decoded after <ans>
SUMMARY_KEYS = ("arch", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                "intermediate_size", "segment_length", "vocab_size")  # fmt: skip
ARCH_KEYS = {
    "lm2": ("memory_slots", "memory_layers"),
    "rmt": ("num_memory_tokens",),
    "armt": ("num_memory_tokens", "armt_memory_tokens", "armt_dpfp_nu", "armt_key_dim"),
    "vanilla": ("vanilla_mode",),
}
CellHook = Callable[[str, str, dict, bool], None]  # (task, length, record, skipped)
BatchHook = Callable[[str, str, int, int], None]  # (task, length, samples done, samples in the cell)


def evaluate(
    model,
    tokenizer,
    source: SampleSource,
    out: str | Path,
    *,
    metric: str = "fixed",
    batch_size: int = 16,
    max_new_tokens: int = 8,
    max_tokens: int | None = None,
    model_path: str | Path | None = None,
    on_cell: CellHook | None = None,
    on_batch: BatchHook | None = None,
) -> dict:
    """Evaluate `model` on every cell of `source`, writing into the folder `out`, and return the results
    dict (the content of `out/results.json`).

    Cells already finished in `out` by an earlier run of the same evaluation are skipped; a
    `results.json` of a different model, tokenizer, data source, metric or `max_new_tokens` raises
    ValueError. `on_cell(task, length, record, skipped)` is called after every cell (also the skipped
    ones), `on_batch(task, length, done, total)` after every decoded batch.
    """
    _check_settings(metric, batch_size, max_new_tokens, max_tokens)
    encode_sample(tokenizer, {"input": "", "question": "", "target": ""}, with_answer=False)  # has <ans>?
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out={str(out)!r} is a file; give a folder for the evaluation's files")
    out.mkdir(parents=True, exist_ok=True)
    results = _open_results(out, model, tokenizer, source, metric, max_new_tokens, model_path)
    session = {"started": _now(), "device": str(next(model.parameters()).device), "batch_size": batch_size,
               "max_tokens": max_tokens, "cells": [], "seconds": 0.0}  # fmt: skip
    results["sessions"].append(session)
    start = time.perf_counter()
    settings = {"batch_size": batch_size, "max_new_tokens": max_new_tokens, "max_tokens": max_tokens}
    was_training = model.training
    model.eval()  # no dropout while answering; the caller's mode is restored below
    try:
        for task in source.tasks:
            for length in source.lengths:
                skipped = is_done(results, out, task, length, settings["max_tokens"])
                if not skipped:
                    record, rows = run_cell(model, tokenizer, source, task, length, metric, settings, on_batch)
                    if rows is not None:
                        write_csv(out / record["csv"], *rows)
                    record_cell(results, task, length, record)
                    session["cells"].append(f"{task}/{length}")
                    _save(out, results, session, start)
                if on_cell:
                    on_cell(task, length, results["cells"][task][length], skipped)
    finally:
        model.train(was_training)
        if results["cells"]:  # also when interrupted: the session's time so far counts in the total
            _save(out, results, session, start)
    plot_heatmaps([results], out / HEATMAP_FILE)
    return results


def is_finished(
    model,
    tokenizer,
    source: SampleSource,
    out: str | Path,
    *,
    metric: str = "fixed",
    max_new_tokens: int = 8,
    max_tokens: int | None = None,
) -> bool:
    """Whether `evaluate` with these arguments would run no cell: `out` holds the results of this same
    evaluation (model, tokenizer, data, metric, `max_new_tokens`) with every cell of `source` finished
    (`is_done`). A caller can then skip building the evaluation at all; anything else is left to `evaluate`,
    which continues it or names the difference."""
    out = Path(out)
    results = read_results(out) if out.is_dir() else None
    if results is None or differences(results["identity"], _identity(model, tokenizer, source, metric, max_new_tokens)):
        return False
    return all(is_done(results, out, task, length, max_tokens) for task in source.tasks for length in source.lengths)


def _identity(model, tokenizer, source: SampleSource, metric: str, max_new_tokens: int) -> dict:
    """What makes two evaluations the same (a results.json is continued only by its own)."""
    return {
        "model": model_fingerprint(model),
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "data": source.describe(),
        "metric": metric,
        "max_new_tokens": max_new_tokens,
        "prompt": PROMPT,
    }


def _open_results(out: Path, model, tokenizer, source, metric: str, max_new_tokens: int, model_path) -> dict:
    """The results of `out` to continue (checked to be the same evaluation), or new ones."""
    identity = _identity(model, tokenizer, source, metric, max_new_tokens)
    data = identity["data"]
    metadata = {
        "model": model_summary(model, model_path),
        "data": data,
        "metric": metric,
        "seed": data.get("seed"),
        "versions": versions(),
    }
    results = read_results(out)
    if results is None:
        return new_results(identity, metadata)
    check_identity(results, identity, out)
    done = sum(r["status"] == DONE for cells in results["cells"].values() for r in cells.values())
    logger.info("continuing the evaluation in %s: finished cells kept: %d", out, done)
    return {**results, **metadata}


def _save(out: Path, results: dict, session: dict, start: float) -> None:
    session["seconds"] = round(time.perf_counter() - start, 3)
    results["wall_seconds"] = round(sum(s["seconds"] for s in results["sessions"]), 3)
    save_results(out, results)


def run_cell(
    model,
    tokenizer,
    source: SampleSource,
    task: str,
    length: str,
    metric: str,
    settings: dict,
    on_batch: BatchHook | None = None,
) -> tuple[dict, tuple[list[str], list[str], list[str]] | None]:
    """One cell: its record for results.json and its CSV columns (None when out of memory)."""
    start = time.perf_counter()
    samples = source.load(task, length)
    prompts = [encode_sample(tokenizer, s, with_answer=False)["input_ids"] for s in samples]
    sizes = [len(p) for p in prompts]
    record = {
        "task": task,
        "length": length,
        "status": DONE,
        "accuracy": None,
        "samples": len(samples),
        "prompt_tokens": {"min": min(sizes), "mean": round(sum(sizes) / len(sizes), 1), "max": max(sizes)},
        "baselines": baseline_accuracies(samples, task, metric),
        "csv": csv_name(task, length),
        "data_seconds": round(time.perf_counter() - start, 3),
    }
    start = time.perf_counter()
    limit = settings["max_tokens"]
    if limit is not None and is_full_attention(model) and max(sizes) > limit:
        error = f"prompt of {max(sizes)} tokens is over max_tokens={limit} for a full-attention model; not run"
        return {**record, "status": OOM, "error": error, "over_max_tokens": limit, "seconds": 0.0}, None
    try:
        outputs, used = answer_in_batches(
            model, tokenizer, prompts, settings["batch_size"], settings["max_new_tokens"],
            None if on_batch is None else lambda done: on_batch(task, length, done, len(prompts)),
        )  # fmt: skip
    except torch.OutOfMemoryError as err:
        message = str(err).splitlines()[0] if str(err) else "torch.OutOfMemoryError"
        outputs = None
    if outputs is None:  # outside the except block, so the failed batch's tensors can be freed
        _free_memory()
        logger.warning("%s %s: out of memory even one sample at a time (%s)", task, length, message)
        return {**record, "status": OOM, "error": message, "seconds": round(time.perf_counter() - start, 3)}, None
    targets = [s["target"] for s in samples]
    questions = [s["question"] for s in samples]
    record.update(
        accuracy=accuracy(targets, outputs, questions, task, metric),
        batch_size=used,
        seconds=round(time.perf_counter() - start, 3),
    )
    if (wrong := latest_fact_wrong(samples, outputs, task, metric)) is not None:
        record["latest_fact_wrong"] = wrong
    if "person_blind" in record["baselines"]:  # every person of each input asked
        record["inputs_with_several_answers"] = several_answers(samples, outputs)
    return record, (targets, outputs, questions)


def answer_in_batches(
    model, tokenizer, prompts: list[list[int]], batch_size: int, max_new_tokens: int, progress=None
) -> tuple[list[str], int]:
    """`generate_answers` over `prompts`, shortest first, halving the batch size whenever a batch runs
    out of memory. Returns the answers in prompt order and the batch size that worked last; raises
    `torch.OutOfMemoryError` when a single prompt does not fit."""
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    answers: list[str] = [""] * len(prompts)
    done = 0
    while done < len(order):
        rows = order[done : done + batch_size]
        try:
            outputs = generate_answers(model, tokenizer, [prompts[i] for i in rows], max_new_tokens, len(rows))
        except torch.OutOfMemoryError:
            if len(rows) == 1:
                raise
            outputs = None
        if outputs is None:  # outside the except block, so the failed batch's tensors can be freed
            batch_size = len(rows) // 2
            logger.info("out of memory; retrying with batch size %d", batch_size)
            _free_memory()
            continue
        for i, answer in zip(rows, outputs, strict=True):
            answers[i] = answer
        done += len(rows)
        if progress:
            progress(done)
    return answers, batch_size


def is_full_attention(model) -> bool:
    """True when the model attends over its whole input (memory grows with the length)."""
    return getattr(model.config, "segment_span", None) is None


def model_fingerprint(model) -> str:
    """SHA-256 (first 16 hex digits) of the model's state dict: names, dtypes, shapes and exact bytes."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.detach().reshape(-1).contiguous().cpu().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def model_summary(model, path: str | Path | None = None) -> dict:
    """What results.json says about the model: path (default: where `from_pretrained` loaded it from),
    architecture, size, dtype."""
    config = model.config
    path = path or getattr(config, "_name_or_path", None) or None
    keys = SUMMARY_KEYS + ARCH_KEYS.get(getattr(config, "arch", None), ())
    return {
        "path": None if path is None else str(Path(path).resolve()),
        "type": getattr(config, "model_type", type(model).__name__),
        "config": {k: getattr(config, k) for k in keys if hasattr(config, k)},
        "parameters": sum(p.numel() for p in model.parameters()),
        "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
        "full_attention": is_full_attention(model),
    }


def versions() -> dict:
    found = {"python": platform.python_version()}
    for package in ("lm2", "torch", "transformers", "tokenizers"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


def _check_settings(metric: str, batch_size: int, max_new_tokens: int, max_tokens: int | None) -> None:
    if metric not in MODES:
        raise ValueError(f"metric={metric!r} is not allowed; choose one of {', '.join(MODES)}")
    for name, value in (("batch_size", batch_size), ("max_new_tokens", max_new_tokens)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} must be a positive integer")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise ValueError(f"max_tokens={max_tokens!r} must be a positive integer or None (no limit)")


def _free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
