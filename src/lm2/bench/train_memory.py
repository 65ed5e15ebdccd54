"""`lm2 bench train-memory`: peak memory of one training step (forward + backward + AdamW) over 1, 4 and 16
segments, with and without `segment_checkpointing=True`, for each model.

Each measurement runs in a fresh process (`common.run_isolated`). The figure reported is the growth of the
resident set during the step: peak RSS during the step minus RSS with the model built (CUDA: peak allocated
memory), with glibc told to return freed blocks at once (`common.track_live_memory`) so that RSS follows the
live tensors. It holds the activations kept for the backward pass, the gradients and AdamW's two moments (3x
the parameters, the same at every length), and the logits with their gradient (which grow with the length
whether or not segments are checkpointed: the LM head runs after the segment loop).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from lm2.files import save_atomic
from lm2.model.flops import parameter_counts

from .common import (
    BACKBONE,
    bench_config,
    build_model,
    load_average,
    machine,
    markdown_table,
    peak_rss_mib,
    reset_peak_rss,
    rss_mib,
    run_isolated,
    synchronize,
    track_live_memory,
)

log = logging.getLogger(__name__)

SEGMENTS = [1, 4, 16]


def measure_train_step(
    name: str,
    segments: int,
    checkpointing: bool,
    backbone: dict[str, Any],
    batch: int = 2,
    seed: int = 0,
    device: str = "cpu",
) -> dict[str, Any]:
    """One training step of model `name` on `batch` x `segments` segments. Runs inside a bench worker."""
    exact = track_live_memory()
    model = build_model(name, {**backbone, "segment_checkpointing": checkpointing}, seed).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(seed)
    length = segments * backbone["segment_length"]
    ids = torch.randint(4, backbone["vocab_size"], (batch, length), generator=generator).to(device)
    cuda = torch.device(device).type == "cuda"
    synchronize(device)
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
        allocated = torch.cuda.memory_allocated(device)
    before = rss_mib()
    reset_peak_rss()
    start = time.perf_counter()
    loss = model(ids, labels=ids).loss
    loss.backward()
    optimizer.step()
    synchronize(device)
    seconds = time.perf_counter() - start
    peak = peak_rss_mib()
    return {
        "seconds": seconds,
        "loss": loss.item(),
        "rss_before_mib": before,
        "peak_rss_mib": peak,
        "step_peak_mib": peak - before if before is not None else None,
        "rss_tracks_live_memory": exact,
        "cuda_step_peak_mib": (torch.cuda.max_memory_allocated(device) - allocated) / 2**20 if cuda else None,
    }


def run_train_memory(
    models: list[str] | None = None,
    segments: list[int] | None = None,
    backbone: dict[str, Any] | None = None,
    batch: int = 2,
    threads: int = 1,
    device: str = "cpu",
    seed: int = 0,
    memory_cap_gib: float | None = 8.0,
    on_result: Callable[[str, int, bool, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Every (model, segments, checkpointing) in a fresh process."""
    models = models or ["lm2", "rmt", "vanilla-segmented", "vanilla"]
    segments = segments or SEGMENTS
    backbone = backbone or BACKBONE
    result: dict[str, Any] = {
        "benchmark": "train-memory",
        "machine": machine(threads, device),
        "backbone": backbone,
        "batch": batch,
        "models": {},
    }
    for name in models:
        params = parameter_counts(bench_config(name, backbone))["total"]
        rows: dict[str, Any] = {}
        for count in segments:
            for checkpointing in (False, True):
                log.info("train-memory: %s, %d segments, checkpointing=%s", name, count, checkpointing)
                kwargs = dict(
                    name=name,
                    segments=count,
                    checkpointing=checkpointing,
                    backbone=backbone,
                    batch=batch,
                    seed=seed,
                    device=device,
                )
                row = run_isolated("lm2.bench.train_memory:measure_train_step", kwargs, threads, memory_cap_gib)
                rows[f"{count}/{'ckpt' if checkpointing else 'full'}"] = row
                if on_result is not None:
                    on_result(name, count, checkpointing, row)
        result["models"][name] = {"params": params, "steps": rows}
    result["machine"]["load_average_1m_at_end"] = load_average()
    return result


def train_memory_table(result: dict[str, Any]) -> str:
    segments = sorted({int(k.split("/")[0]) for m in result["models"].values() for k in m["steps"]})
    headers = ["model"]
    for count in segments:
        headers += [f"{count} seg", f"{count} seg ckpt"]
    cuda = result["machine"]["device"].startswith("cuda")
    key = "cuda_step_peak_mib" if cuda else "step_peak_mib"
    rows = []
    for name, m in result["models"].items():
        cells = [name]
        for count in segments:
            for mode in ("full", "ckpt"):
                r = m["steps"].get(f"{count}/{mode}", {"status": "-"})
                cells.append(f"{r[key]:.0f}" if r["status"] == "ok" else r["status"])
        rows.append(cells)
    what = "peak allocated" if cuda else "peak RSS growth"
    length = result["backbone"]["segment_length"]
    head = f"{what} during one training step, MiB (batch {result['batch']}, segments of {length} tokens)\n"
    return head + markdown_table(headers, rows)


def plot_train_memory(result: dict[str, Any], path: Path) -> None:
    """Step memory against the number of segments, log-log, with (dashed) and without checkpointing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cuda = result["machine"]["device"].startswith("cuda")
    key = "cuda_step_peak_mib" if cuda else "step_peak_mib"
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for index, (name, m) in enumerate(result["models"].items()):
        for mode, style in (("full", "o-"), ("ckpt", "s--")):
            points = sorted(
                (int(k.split("/")[0]), r[key])
                for k, r in m["steps"].items()
                if k.endswith(mode) and r["status"] == "ok"
            )
            if points:
                label = f"{name}{' (checkpointed)' if mode == 'ckpt' else ''}"
                ax.plot(*zip(*points, strict=True), style, color=f"C{index}", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(f"segments of {result['backbone']['segment_length']} tokens")
    ax.set_ylabel("peak allocated during the step, MiB" if cuda else "peak RSS growth during the step, MiB")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"one training step, batch {result['batch']}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110))
    plt.close(fig)
