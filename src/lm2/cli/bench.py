"""`lm2 bench`: what the memory costs, our backbone against Hugging Face Llama, long inputs, training memory,
GPU throughput, and whether a memory holds at length (`lm2 bench memory`, the memory ladder). Each subcommand
prints a Markdown table and, with `--json FILE`, writes the raw results.
See docs/benchmarks.md for results, the machine they came from and how to read them.

The library (`lm2.bench`) is imported inside the handlers so that `lm2 --help` stays fast.
"""

from __future__ import annotations

import argparse
import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lm2.cli.bench_memory import add_memory
from lm2.cli.common import add_command, add_command_group

logger = logging.getLogger(__name__)

# A backbone small enough for smoke runs (`--quick`): seconds per subcommand.
QUICK_BACKBONE: dict[str, Any] = dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, segment_length=16,
                                      num_memory_tokens=4)  # fmt: skip


MODELS_HELP = "comma-separated, from lm2, rmt, vanilla-segmented (no memory, same span), vanilla (full)"


def register(subparsers: argparse._SubParsersAction) -> None:
    sub = add_command_group(subparsers, "bench", __doc__.split("\n\n")[0], metavar="BENCHMARK")
    _add_overhead(sub)
    _add_reference(sub)
    _add_length(sub)
    _add_train_memory(sub)
    _add_gpu(sub)
    add_memory(sub)


def _common(p: argparse.ArgumentParser, cpu_options: bool = True) -> None:
    p.add_argument("--json", type=Path, metavar="FILE", help="write the raw results to FILE")
    if cpu_options:
        p.add_argument("--seed", type=int, default=0)
        p.add_argument(
            "--threads",
            type=int,
            default=1,
            help="torch threads; one thread is the least disturbed by other load on a shared machine",
        )
        p.add_argument("--device", default="cpu", help="cpu (these are CPU benchmarks), cuda or auto")
    p.add_argument("--quick", action="store_true", help="a smoke run on a tiny model (seconds)")


def _models(args: argparse.Namespace) -> list[str]:
    from lm2.model.variants import parse_variants

    return parse_variants(args.models, "--models")


def _cpu_options(args: argparse.Namespace) -> dict[str, Any]:
    """The arguments every CPU benchmark takes: the backbone (`--quick`: the tiny one), threads, device, seed."""
    from lm2.device import resolve_device

    backbone = QUICK_BACKBONE if args.quick else None
    device = str(resolve_device(args.device))
    return {"backbone": backbone, "threads": args.threads, "device": device, "seed": args.seed}


def _finish(args: argparse.Namespace, result: dict[str, Any], table: str) -> int:
    print(table)
    if args.json is not None:
        from lm2.bench.common import write_json

        write_json(args.json, result)
        print(f"\nwrote {args.json}")
    return 0


def _run_with_progress(
    args: argparse.Namespace,
    total: int,
    label: Callable[..., str],
    measure: Callable[..., dict[str, Any]],
    plot: Callable[[dict[str, Any], Path], None],
    table: Callable[[dict[str, Any]], str],
) -> int:
    """`measure(on_result=tick)` with a progress bar of `total` runs (each `tick(*where, row)` shows
    `label(*where)` and the row's status), then the plot (`--plot`), the table and `--json`."""
    with tqdm(total=total, desc=f"bench {args.bench_command}", unit="run") as bar:

        def tick(*where: Any) -> None:
            *place, row = where
            bar.update(1)
            bar.set_postfix_str(f"{label(*place)}: {row['status']}")

        result = measure(on_result=tick)
    if args.plot is not None:
        plot(result, args.plot)
        logger.info("saved %s", args.plot)
    return _finish(args, result, table(result))


# ---------------------------------------------------------------------------------------------- overhead
def _add_overhead(sub: argparse._SubParsersAction) -> None:
    what = "training step and inference time of lm2, rmt and vanilla against the FLOP ratio"
    p = add_command(sub, "overhead", _run_overhead, what)
    p.add_argument("--models", default="lm2,rmt,vanilla-segmented,vanilla", help=MODELS_HELP)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--segments", type=int, default=4, help="segments per input")
    p.add_argument("--repeats", type=int, default=9, help="interleaved timed training rounds (inference: 3x as many)")
    _common(p)


def _run_overhead(args: argparse.Namespace) -> int:
    from lm2.bench.overhead import overhead_table, run_overhead

    if args.quick:
        args.batch, args.segments, args.repeats = 2, 2, 2
    result = run_overhead(
        models=_models(args), batch=args.batch, segments=args.segments, repeats=args.repeats, **_cpu_options(args)
    )
    return _finish(args, result, overhead_table(result))


# ---------------------------------------------------------------------------------------------- reference
def _add_reference(sub: argparse._SubParsersAction) -> None:
    what = "our vanilla against transformers' LlamaForCausalLM (same config and weights)"
    p = add_command(sub, "reference", _run_reference, what)
    p.add_argument("--batch", type=int, default=4, help="forward + backward batch")
    p.add_argument("--length", type=int, default=512, help="forward + backward tokens per sample")
    p.add_argument("--gen-batches", default="1,4", help="generation batch sizes, each timed")
    p.add_argument("--prompt", type=int, default=32, help="prompt tokens before generation")
    p.add_argument("--new-tokens", type=int, default=128, help="tokens generated (cached, greedy)")
    p.add_argument("--repeats", type=int, default=9, help="interleaved timed rounds (median reported)")
    _common(p)


def _run_reference(args: argparse.Namespace) -> int:
    from lm2.bench.common import parse_ints
    from lm2.bench.reference import reference_table, run_reference

    if args.quick:
        args.batch, args.length, args.new_tokens, args.repeats = 2, 64, 8, 2
    result = run_reference(
        batch=args.batch,
        length=args.length,
        gen_batches=tuple(parse_ints(args.gen_batches, "--gen-batches")),
        prompt=args.prompt,
        new_tokens=args.new_tokens,
        repeats=args.repeats,
        **_cpu_options(args),
    )
    return _finish(args, result, reference_table(result))


# ---------------------------------------------------------------------------------------------- length
def _add_length(sub: argparse._SubParsersAction) -> None:
    what = "streaming inference time and peak memory from 1k to 1M tokens (each in a fresh process)"
    p = add_command(sub, "length", _run_length, what)
    p.add_argument("--models", default="lm2,rmt,vanilla", help=MODELS_HELP)
    p.add_argument("--lengths", default="1k,4k,16k,64k,256k,1M", help="suffixes k = 1024, M = 1024²")
    p.add_argument("--chunk", type=int, default=2048, help="tokens per forward call of the stream")
    p.add_argument(
        "--memory-cap-gib",
        type=float,
        default=4.0,
        help="address space a measurement may add to a fresh Python; beyond it: 'does not fit'",
    )
    p.add_argument(
        "--time-cap-s",
        type=float,
        default=90.0,
        help="a length whose time projected from the previous one exceeds this is not run",
    )
    p.add_argument(
        "--no-flush-denormal",
        dest="flush_denormal",
        action="store_false",
        help="keep denormal floats (default: flush them to zero; a random-init LM2 bank decays into them, "
        "which x86 CPUs compute about 4x slower)",
    )
    p.add_argument("--plot", type=Path, metavar="PNG", help="save the log-log time and memory plot")
    _common(p)


def _run_length(args: argparse.Namespace) -> int:
    from lm2.bench.common import parse_ints
    from lm2.bench.length import length_label, length_table, plot_length, run_length

    models, lengths = _models(args), parse_ints(args.lengths, "--lengths")
    caps = {"memory_cap_gib": args.memory_cap_gib, "time_cap_s": args.time_cap_s}
    measure = functools.partial(
        run_length, models, lengths, chunk=args.chunk, flush_denormal=args.flush_denormal, **caps, **_cpu_options(args)
    )

    def label(name: str, length: int) -> str:
        return f"{name} {length_label(length)}"

    return _run_with_progress(args, len(models) * len(lengths), label, measure, plot_length, length_table)


# ---------------------------------------------------------------------------------------------- train-memory
def _add_train_memory(sub: argparse._SubParsersAction) -> None:
    what = "peak memory of one training step over 1, 4, 16 segments, with and without segment checkpointing"
    p = add_command(sub, "train-memory", _run_train_memory, what)
    p.add_argument("--models", default="lm2,rmt,vanilla-segmented,vanilla", help=MODELS_HELP)
    p.add_argument("--segments", default="1,4,16", help="segments per input")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--plot", type=Path, metavar="PNG", help="save the log-log memory plot")
    _common(p)


def _run_train_memory(args: argparse.Namespace) -> int:
    from lm2.bench.common import parse_ints
    from lm2.bench.train_memory import plot_train_memory, run_train_memory, train_memory_table

    models, segments = _models(args), parse_ints(args.segments, "--segments")
    measure = functools.partial(run_train_memory, models, segments, batch=args.batch, **_cpu_options(args))

    def label(name: str, count: int, checkpointing: bool) -> str:
        return f"{name} {count} seg{' ckpt' if checkpointing else ''}"

    total = len(models) * len(segments) * 2
    return _run_with_progress(args, total, label, measure, plot_train_memory, train_memory_table)


# ---------------------------------------------------------------------------------------------- gpu
def _add_gpu(sub: argparse._SubParsersAction) -> None:
    what = "bf16 training tokens/s and MFU of ~125M-parameter models, eager and compiled (needs CUDA)"
    p = add_command(sub, "gpu", _run_gpu, what)
    p.add_argument("--models", default="vanilla,vanilla-segmented,lm2,rmt", help=MODELS_HELP)
    p.add_argument("--steps", type=int, default=8, help="timed steps after 3 warm-up steps")
    p.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of the GPU (H100: 989)")
    p.add_argument("--tf32", action="store_true", help="allow TF32 for fp32 matmuls (the LM2 memory path)")
    p.add_argument("--no-compile", action="store_true", help="eager only (skip torch.compile)")
    p.add_argument("--dry-run", action="store_true", help="run the same code on CPU with a tiny shape (no CUDA needed)")
    _common(p, cpu_options=False)


def _run_gpu(args: argparse.Namespace) -> int:
    import torch

    from lm2.bench.gpu import gpu_table, run_gpu

    if not (args.dry_run or args.quick) and not torch.cuda.is_available():
        logger.error(
            "lm2 bench gpu: no CUDA device (torch.cuda.is_available() is False, torch %s). Run it on a "
            "machine with a GPU, or use --dry-run to exercise the same code on CPU with a tiny shape.",
            torch.__version__,
        )
        return 1
    result = run_gpu(
        models=_models(args),
        steps=1 if args.quick else args.steps,
        peak_tflops=args.peak_tflops,
        tf32=args.tf32,
        compile_modes=(False,) if args.no_compile else (False, True),
        dry_run=args.dry_run or args.quick,
    )
    return _finish(args, result, gpu_table(result))
