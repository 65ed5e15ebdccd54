"""Jobs in worker processes with one progress bar each, shared by the commands that train several small
models side by side (`lm2 demo`, `lm2 bench memory`): each job runs in its own process with one CPU thread,
so two cores run two jobs without contending for threads. The processes are forks of lm2's fork server
(`lm2.fork_server`), which has imported torch and the models once, so a worker starts at once instead of
importing them again (7–10 s of a core each here)."""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable

import torch
from tqdm import tqdm

from lm2.fork_server import fork_context


def run_jobs(jobs: dict[str, tuple[Callable, dict]], totals: dict[str, int], workers: int, command: str) -> dict:
    """Run `fn(**kwargs, on_step=...)` for every job, `workers` at a time in worker processes (one CPU thread
    each, this process's environment and folder), with one progress bar per job; returns each job's result. A
    failed job stops `command` with its traceback. Ctrl-C or SIGTERM (`kill`) stops the workers too: finished
    jobs stay saved, none runs on."""
    ctx = fork_context()
    previous_term = _exit_on_sigterm()
    here = {"environ": dict(os.environ), "folder": os.getcwd()}
    messages = ctx.Queue()
    pending, running, results = list(jobs), {}, {}
    bars = {name: tqdm(total=totals[name], desc=f"{name:>17}", unit="step", position=i, leave=True)
            for i, name in enumerate(jobs)}  # fmt: skip
    try:
        while pending or running:
            while pending and len(running) < max(1, workers):
                name = pending.pop(0)
                fn, kwargs = jobs[name]
                running[name] = ctx.Process(target=_worker, args=(name, fn, kwargs, messages, here), daemon=True)
                running[name].start()
            try:
                kind, name, payload = messages.get(timeout=1.0)
            except queue.Empty:
                for name, process in list(running.items()):
                    if not process.is_alive() and process.exitcode not in (None, 0):
                        raise SystemExit(f"{command}: the {name} job died (exit code {process.exitcode})") from None
                continue
            if kind == "step":
                bar = bars[name]
                bar.update(payload[0] - bar.n)
                if payload[1] == payload[1]:  # not NaN
                    bar.set_postfix(loss=f"{payload[1]:.3f}", refresh=False)
            elif kind == "done":
                results[name] = payload
                running.pop(name).join()
                bars[name].update(totals[name] - bars[name].n)
                bars[name].close()
            else:
                raise SystemExit(f"{command}: the {name} job failed:\n{payload}")
    finally:
        for bar in bars.values():
            bar.close()
        for process in running.values():
            process.terminate()
        for process in running.values():
            process.join(timeout=10)
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)
    return {name: results[name] for name in jobs}


def _exit_on_sigterm():
    """Turn SIGTERM into `SystemExit(143)` (128 + 15, what a shell reports) so that `run_jobs`' finally stops
    the workers; Python's default would end this process at once and leave them running. Returns the previous
    handler, or None off the main thread (where handlers cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum, frame):
        raise SystemExit(128 + signal.SIGTERM)

    return signal.signal(signal.SIGTERM, stop)


def _worker(name: str, fn: Callable, kwargs: dict, messages, here: dict) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as the fork server: Ctrl-C is the command's to handle
    os.environ.clear()
    os.environ.update(here["environ"])
    os.chdir(here["folder"])
    torch.set_num_threads(1)
    quiet_transformers()
    last = [0.0]

    def on_step(step: int, loss: float) -> None:
        if time.time() - last[0] > 0.5:
            last[0] = time.time()
            messages.put(("step", name, (step, loss)))

    try:
        result = fn(**kwargs, on_step=on_step)
        messages.put(("done", name, result))
    except BaseException:
        messages.put(("error", name, traceback.format_exc()))


def quiet_transformers() -> None:
    """No per-file progress bars from transformers (saving and loading tiny models) among the demo's own."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
