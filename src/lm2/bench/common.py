"""What every benchmark shares: the models compared, the default backbone, interleaved timing, memory
readings, measurements isolated in a fresh process under a memory cap, fits and Markdown tables.

Timing rule: a ratio is only ever taken between repetitions interleaved in one run (A B C, B C A, ...), and
the median of each is reported, so a burst of load from another process hits every model alike.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import logging
import math
import os
import platform
import resource
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import torch

from lm2.files import write_atomic
from lm2.fork_server import fork_context
from lm2.model import LM2Config, LM2ForCausalLM
from lm2.model.variants import variant_config

log = logging.getLogger(__name__)

# The models compared are the variants of `lm2.model.variants`: one backbone, the same segment length; only
# what crosses segments differs.
BASELINE = "vanilla-segmented"  # the memory-less model with the same attention span as lm2 and rmt

# The default bench backbone: a small Llama (4 blocks of width 256, grouped-query attention) that runs a
# training step on 2 CPU cores in about a second.
BACKBONE: dict[str, Any] = {
    "vocab_size": 4096,
    "hidden_size": 256,
    "intermediate_size": 688,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "segment_length": 128,
    "num_memory_tokens": 16,
}


def bench_config(name: str, backbone: dict[str, Any] | None = None) -> LM2Config:
    """The `LM2Config` of model variant `name` (`lm2.model.variants`) on `backbone` (default `BACKBONE`)."""
    return variant_config(name, backbone or BACKBONE)


def build_model(name: str, backbone: dict[str, Any] | None = None, seed: int = 0) -> LM2ForCausalLM:
    """A freshly initialised model (seeded), eos disabled so that generations have a fixed length."""
    torch.manual_seed(seed)
    model = LM2ForCausalLM(bench_config(name, backbone))
    model.generation_config.eos_token_id = None
    return model


def parse_list(text: str, allowed: Sequence[str] | None = None, field: str = "value") -> list[str]:
    """`"a,b"` → `["a", "b"]`, checked against `allowed` (`ValueError` naming the field otherwise)."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ValueError(f"{field}={text!r} is empty")
    if allowed is not None:
        bad = [t for t in items if t not in allowed]
        if bad:
            raise ValueError(f"{field}={text!r} has unknown {bad}; choose from {', '.join(allowed)}")
    return items


def parse_ints(text: str, field: str = "value") -> list[int]:
    """`"1k,4k,1M"` or `"1024,4096"` → integers (k = 1024, M = 1024²)."""
    scale = {"k": 1024, "K": 1024, "m": 1024**2, "M": 1024**2}
    out = []
    for item in parse_list(text, field=field):
        try:
            out.append(int(item[:-1]) * scale[item[-1]] if item[-1] in scale else int(item))
        except ValueError:
            message = f"{field}={text!r}: {item!r} is not an integer (suffixes k, M allowed)"
            raise ValueError(message) from None
    return out


# ---------------------------------------------------------------------------------------------- timing
def synchronize(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1, device: str = "cpu"
) -> dict[str, list[float]]:
    """Seconds of each callable over `repeats` rounds; round r starts at the r-th callable (rotation), so no
    model always runs first or right after the same neighbour. `warmup` untimed rounds come first."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            synchronize(device)
            start = time.perf_counter()
            fns[name]()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return times


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def paired_ratio(times: Sequence[float], baseline: Sequence[float]) -> float:
    """Median over rounds of `times[r] / baseline[r]`: each ratio compares two runs minutes apart at most,
    so a slow drift of the machine's load cancels out (the ratio of medians would not)."""
    return median([t / b for t, b in zip(times, baseline, strict=True)])


def spread(values: Sequence[float]) -> float:
    """Relative half-range of the middle half of the repetitions (a robust noise figure)."""
    if len(values) < 2:
        return 0.0
    q = statistics.quantiles(values, n=4, method="inclusive")
    return float((q[2] - q[0]) / 2 / statistics.median(values))


# ---------------------------------------------------------------------------------------------- memory
def _proc_status_mib(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def rss_mib() -> float | None:
    """Resident memory of this process now (Linux), in MiB."""
    return _proc_status_mib("VmRSS")


def peak_rss_mib() -> float:
    """Peak resident memory of this process, in MiB.

    Linux: `VmHWM` of this process's own address space (which `reset_peak_rss` can restart). `ru_maxrss`
    is not used there because it survives `exec` and is inherited across `fork`."""
    peak = _proc_status_mib("VmHWM")
    if peak is not None:
        return peak
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def reset_peak_rss() -> bool:
    """Restart the peak-RSS count at the current RSS (Linux `clear_refs`); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def track_live_memory() -> bool:
    """Make the resident set follow live memory (Linux glibc): every allocation above 64 KiB gets its own
    mapping, returned to the system when freed (`mallopt(M_MMAP_THRESHOLD)`, which also stops glibc from
    raising that threshold as it goes). Without it, freed blocks stay resident at glibc's discretion and
    the peak RSS of the same step varies by 20 %. Slows allocation; use it for memory, not time."""
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(-3, 64 * 1024))  # -3: M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


# ---------------------------------------------------------------------------------------------- isolation
def run_isolated(
    target: str,
    kwargs: dict[str, Any],
    threads: int,
    memory_cap_gib: float | None = None,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """Run `module:function(**kwargs)` in a fresh process and return its dict with `"status": "ok"`.

    A fresh process per measurement gives a clean peak RSS. Processes are forked from lm2's fork server
    (`lm2.fork_server`), which has imported torch and lm2 once, saving seconds of imports per measurement.
    With `memory_cap_gib` the child limits its address space to what it had at start plus the cap, so a model
    that needs more fails inside the child: `{"status": "does not fit"}` instead of the machine swapping or the
    OOM killer striking. A child past `timeout_s` is killed: `{"status": "over time cap"}`.
    """
    context = fork_context()
    receive, send = context.Pipe(duplex=False)
    cap = None if memory_cap_gib is None else int(memory_cap_gib * 2**30)
    child = context.Process(target=_child, args=(target, kwargs, threads, cap, send), daemon=True)
    child.start()
    send.close()
    ready = receive.poll(timeout_s)  # True on a result, and also when the child died without one
    try:
        result = receive.recv() if ready else None
    except EOFError:
        result = None
    child.join(None if ready else 0)
    if child.is_alive():
        child.kill()
        child.join()
        return {"status": "over time cap", "time_cap_s": timeout_s}
    if result is None:
        if cap is not None:  # killed without a word near the cap: the allocation failed outside Python
            return {"status": "does not fit", "memory_cap_gib": memory_cap_gib, "exit_code": child.exitcode}
        raise RuntimeError(f"bench process for {target} died with exit code {child.exitcode}")
    if "traceback" in result:
        raise RuntimeError(f"bench process for {target} failed:\n{result['traceback']}")
    return result


def _address_space_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise OSError("no VmSize in /proc/self/status")


def _child(target: str, kwargs: dict[str, Any], threads: int, cap: int | None, send: Connection) -> None:
    """Body of an isolated measurement: the cap, then the function; the outcome goes back through `send`."""
    torch.set_num_threads(threads)
    module, name = target.split(":")
    fn = getattr(importlib.import_module(module), name)
    if cap is not None:  # on top of what the interpreter, torch and lm2 already take
        limit = _address_space_bytes() + cap
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    try:
        result = {"status": "ok", **fn(**kwargs)}
    except (MemoryError, RuntimeError) as err:
        if not isinstance(err, MemoryError) and "alloc" not in str(err).lower():
            result = {"traceback": traceback.format_exc()}
        else:
            result = {"status": "does not fit", "memory_cap_gib": (cap or 0) / 2**30}
            result["error"] = f"{type(err).__name__}: {str(err)[:300]}"
    except Exception:
        result = {"traceback": traceback.format_exc()}
    send.send(result)
    send.close()


# ---------------------------------------------------------------------------------------------- reporting
def machine(threads: int, device: str = "cpu") -> dict[str, Any]:
    """The machine a result came from: CPU model, cores, threads used, load, versions, GPU if any."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import transformers

    info = {
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "torch_threads": threads,
        "load_average_1m_at_start": load_average(),
        "memory_gib": _total_memory_gib(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "device": device,
    }
    if torch.device(device).type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def load_average() -> float | None:
    """The 1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _total_memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> dict[str, float]:
    """Least squares `y = slope * x + intercept` with its r²; and the log-log slope (1 = linear growth)."""
    n = len(xs)
    if n < 2:
        raise ValueError(f"a fit needs at least 2 points, got {n}")
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = my - slope * mx
    sst = sum((y - my) ** 2 for y in ys)
    sse = sum((y - slope * x - intercept) ** 2 for x, y in zip(xs, ys, strict=True))
    lx, ly = [math.log(x) for x in xs], [math.log(max(y, 1e-12)) for y in ys]
    mlx, mly = sum(lx) / n, sum(ly) / n
    loglog = sum((a - mlx) * (b - mly) for a, b in zip(lx, ly, strict=True)) / sum((a - mlx) ** 2 for a in lx)
    return {
        "slope": slope,
        "intercept": intercept,
        "r2": 1.0 - sse / sst if sst > 0 else 1.0,
        "loglog_slope": loglog,
    }


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data, indent=2) + "\n")
