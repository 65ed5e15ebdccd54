"""`lm2 bench length`: inference at length. Wall time and peak memory of streaming 1k ... 1M tokens through
`lm2` and `rmt` (chunks carried with `memory=`, `logits_to_keep=1`), and through full-attention `vanilla`
until it no longer fits the memory cap or the time cap.

Each (model, length) runs in a fresh process (`common.run_isolated`) because a process's peak RSS only
grows. Targets (issue 8): time grows linearly in the length (least-squares fit and log-log slope reported),
and peak memory at 1M tokens is at most 1.2 x the peak at 4k.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from lm2.files import save_atomic

from .common import (
    bench_config,
    build_model,
    linear_fit,
    load_average,
    machine,
    markdown_table,
    peak_rss_mib,
    reset_peak_rss,
    rss_mib,
    run_isolated,
    synchronize,
)

log = logging.getLogger(__name__)

# A smaller backbone than `common.BACKBONE`, so that 1M tokens through lm2 and rmt take about a minute each
# on 2 CPU cores.
LENGTH_BACKBONE: dict[str, Any] = {
    "vocab_size": 1024,
    "hidden_size": 128,
    "intermediate_size": 344,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "segment_length": 128,
    "num_memory_tokens": 16,
}
LENGTHS = [2**10, 2**12, 2**14, 2**16, 2**18, 2**20]
PEAK_TARGET = 1.2  # peak(1M) / peak(4k)


def measure_stream(
    name: str,
    length: int,
    chunk: int,
    backbone: dict[str, Any],
    flush_denormal: bool = True,
    seed: int = 0,
    device: str = "cpu",
) -> dict[str, Any]:
    """Stream `length` random tokens through model `name` in chunks of `chunk` (batch 1), carrying the
    state. Runs inside a bench worker; returns seconds, tokens/s, RSS before and peak RSS during the
    stream (MiB), the final state's size and, on CUDA, the peak allocated memory.

    `flush_denormal`: a randomly initialised LM2 bank shrinks by its forget gate (~sigma(1) per block) and
    reaches denormal floats after a few hundred segments, which x86 CPUs compute about 4x slower; flushing
    them to zero measures the model rather than that artefact of random weights."""
    torch.set_flush_denormal(flush_denormal)
    model = build_model(name, backbone, seed).to(device).eval()
    vocab = backbone["vocab_size"]
    generator = torch.Generator().manual_seed(seed)
    cuda = torch.device(device).type == "cuda"
    with torch.no_grad():
        model(torch.randint(4, vocab, (1, min(chunk, length)), generator=generator).to(device))  # warm-up
        synchronize(device)
        before = rss_mib()
        reset = reset_peak_rss()
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        state, done, start = None, 0, time.perf_counter()
        while done < length:
            ids = torch.randint(4, vocab, (1, min(chunk, length - done)), generator=generator).to(device)
            state = model(ids, memory=state, logits_to_keep=1).memory
            done += ids.shape[1]
        synchronize(device)
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "tokens_per_s": length / seconds,
        "rss_before_mib": before,
        "peak_rss_mib": peak_rss_mib(),
        "peak_is_stream_only": reset,
        "state_bytes": state.nbytes,
        "cuda_peak_mib": torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None,
    }


def run_length(
    models: list[str] | None = None,
    lengths: list[int] | None = None,
    backbone: dict[str, Any] | None = None,
    chunk: int = 2048,
    memory_cap_gib: float = 4.0,
    time_cap_s: float = 90.0,
    flush_denormal: bool = True,
    threads: int = 1,
    device: str = "cpu",
    seed: int = 0,
    on_result: Callable[[str, int, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Measure every (model, length), shortest first. A model that failed a length is not tried longer;
    one whose time projected from its previous length (quadratic for full attention, linear otherwise)
    exceeds `time_cap_s` is marked "over time cap" without running."""
    models = models or ["lm2", "rmt", "vanilla"]
    lengths = sorted(lengths or LENGTHS)
    backbone = backbone or LENGTH_BACKBONE
    result: dict[str, Any] = {
        "benchmark": "length",
        "machine": machine(threads, device),
        "backbone": backbone,
        "chunk": chunk,
        "memory_cap_gib": memory_cap_gib,
        "time_cap_s": time_cap_s,
        "flush_denormal": flush_denormal,
        "models": {},
    }
    settings = {"chunk": chunk, "flush_denormal": flush_denormal, "seed": seed, "device": device}
    for name in models:
        rows = _measure_model(name, lengths, backbone, settings, threads, memory_cap_gib, time_cap_s, on_result)
        result["models"][name] = {"lengths": rows, **summarize(rows)}
    result["machine"]["load_average_1m_at_end"] = load_average()
    return result


def _measure_model(
    name: str,
    lengths: list[int],
    backbone: dict[str, Any],
    settings: dict[str, Any],
    threads: int,
    memory_cap_gib: float,
    time_cap_s: float,
    on_result: Callable[[str, int, dict[str, Any]], None] | None,
) -> dict[str, Any]:
    """The rows of one model, shortest length first (`settings`: the other `measure_stream` arguments)."""
    power = 2 if bench_config(name, backbone).segment_span is None else 1  # full attention: quadratic
    rows: dict[str, Any] = {}
    last: tuple[int, float] | None = None  # (length, seconds) of the longest run so far
    stopped = None
    for length in lengths:
        projected = None if last is None else last[1] * (length / last[0]) ** power
        if stopped is not None:
            row = {"status": stopped}
        elif projected is not None and projected > time_cap_s:
            row = {"status": "over time cap", "projected_s": projected}
        else:
            log.info("length: %s at %d tokens", name, length)
            kwargs = {"name": name, "length": length, "backbone": backbone, **settings}
            row = run_isolated("lm2.bench.length:measure_stream", kwargs, threads, memory_cap_gib, time_cap_s * 2 + 60)
        if row["status"] == "ok":
            last = (length, row["seconds"])
        elif stopped is None:
            stopped = f"not run ({row['status']} at a shorter length)"
        rows[str(length)] = row
        if on_result is not None:
            on_result(name, length, row)
    return rows


def summarize(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Linear fit of time against length over the measured points, and the peak ratios 1M : 4k."""
    ok = {int(k): r for k, r in rows.items() if r["status"] == "ok"}
    out: dict[str, Any] = {"longest_measured": max(ok) if ok else None}
    if len(ok) >= 2:
        xs = sorted(ok)
        out["time_fit"] = linear_fit(xs, [ok[x]["seconds"] for x in xs])
    if 2**12 in ok and 2**20 in ok:
        out["peak_ratio_1m_4k"] = ok[2**20]["peak_rss_mib"] / ok[2**12]["peak_rss_mib"]
        out["peak_target_met"] = out["peak_ratio_1m_4k"] <= PEAK_TARGET
        if ok[2**12]["cuda_peak_mib"]:
            out["cuda_peak_ratio_1m_4k"] = ok[2**20]["cuda_peak_mib"] / ok[2**12]["cuda_peak_mib"]
    return out


def length_label(length: int) -> str:
    return f"{length // 2**20}M" if length % 2**20 == 0 else f"{length // 2**10}k"


def length_table(result: dict[str, Any]) -> str:
    lengths = sorted({int(k) for m in result["models"].values() for k in m["lengths"]})
    headers = ["model"] + [length_label(n) for n in lengths]
    time_rows, memory_rows = [], []
    for name, m in result["models"].items():
        cells_t, cells_m = [name], [name]
        for n in lengths:
            r = m["lengths"].get(str(n), {"status": "-"})
            if r["status"] == "ok":
                cells_t.append(f"{r['seconds']:.2f} s ({r['tokens_per_s']:,.0f}/s)")
                cells_m.append(f"{r['peak_rss_mib']:.0f}")
            else:
                short = r["status"].split(" (")[0]
                extra = f", ~{r['projected_s']:.0f} s" if "projected_s" in r else ""
                cells_t.append(short + extra)
                cells_m.append(short)
        time_rows.append(cells_t)
        memory_rows.append(cells_m)
    text = "wall time (tokens/s)\n" + markdown_table(headers, time_rows)
    text += "\n\npeak RSS during the stream, MiB\n" + markdown_table(headers, memory_rows)
    fits = []
    for name, m in result["models"].items():
        parts = []
        if "time_fit" in m:
            f = m["time_fit"]
            parts.append(
                f"time = {f['slope'] * 1e6:.1f} us/token x length + {f['intercept']:.2f} s "
                f"(r² {f['r2']:.4f}, log-log slope {f['loglog_slope']:.2f})"
            )
        if "peak_ratio_1m_4k" in m:
            verdict = "met" if m["peak_target_met"] else "MISSED"
            parts.append(f"peak(1M)/peak(4k) = {m['peak_ratio_1m_4k']:.3f} (target <= {PEAK_TARGET}: {verdict})")
        if parts:
            fits.append(f"{name}: " + "; ".join(parts))
    return text + "\n\n" + "\n".join(fits)


def plot_length(result: dict[str, Any], path: Path) -> None:
    """Time and peak memory against length, log-log, one line per model; saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    for name, m in result["models"].items():
        ok = sorted((int(k), r) for k, r in m["lengths"].items() if r["status"] == "ok")
        if not ok:
            continue
        xs = [n for n, _ in ok]
        ax_t.plot(xs, [r["seconds"] for _, r in ok], "o-", label=name)
        ax_m.plot(xs, [r["peak_rss_mib"] for _, r in ok], "o-", label=name)
    for ax, ylabel in ((ax_t, "wall time, s"), (ax_m, "peak RSS, MiB")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("input length, tokens")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    cpu = result["machine"]["cpu"]
    threads = result["machine"]["torch_threads"]
    fig.suptitle(f"streaming inference, batch 1 ({cpu}, {threads} thread{'' if threads == 1 else 's'})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110))
    plt.close(fig)
