"""The one fork server from which lm2 starts its worker processes (`lm2.cli.jobs.run_jobs`, the isolated
measurements of `lm2.bench.common.run_isolated`).

A spawned process imports torch and transformers' modeling code again, 7–10 s of one core here before
it does any work; the demo and the memory ladder start one such worker per model. The fork server imports
them once and never runs a torch op, so torch's thread pools do not exist yet when it forks; each worker is then
a fork of it and starts at once, and trains exactly as a spawned worker does (tests/cli/test_cli_jobs.py).
It is started with SIGINT ignored, which its forks inherit: Ctrl-C in a terminal reaches the whole process
group, and the command, not its workers, decides what to do about it.

A fork inherits the server's environment and folder, not those of the process that asks for the worker:
`run_jobs` hands both to each worker explicitly. Settings read once at import (for example
`OMP_NUM_THREADS` by torch) are the server's: the workers set their thread count themselves. Where the platform
has no fork server (Windows), workers are spawned, each importing torch itself.
"""

from __future__ import annotations

import functools
import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import signal
import threading

# What every worker needs: torch, transformers' modeling code and the lm2 models (through bench.common),
# the trainer and the data pipeline.
PRELOAD = ["lm2.bench.common", "lm2.training.trainer"]


@functools.cache
def fork_context() -> multiprocessing.context.BaseContext:
    """The `forkserver` context, its server running (started here on first use, with SIGINT ignored); where
    the platform has no fork server (Windows), the `spawn` context."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            multiprocessing.forkserver.ensure_running()
        finally:
            signal.signal(signal.SIGINT, previous)
    return context
