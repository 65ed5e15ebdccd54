"""`lm2 bench gpu`: bf16 training throughput and model-FLOPs utilisation (MFU) of a ~125M-parameter config of
each model, eager and with every block compiled (`torch.compile`), in one run of a few minutes on one GPU.

`scripts/gpu_check.py` (the CUDA correctness check) uses the same config and step from here. Without CUDA
the command refuses; `dry_run=True` runs the same code path on CPU with a tiny shape, for tests.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import torch

from lm2.model import LM2Config, LM2ForCausalLM
from lm2.model.flops import parameter_counts, training_flops
from lm2.model.variants import DEFAULT_MODELS, variant_config

from .common import BASELINE, machine, markdown_table, synchronize

log = logging.getLogger(__name__)

H100_BF16_TFLOPS = 989.0  # dense bf16 peak of an H100 SXM

GPU_BACKBONE: dict[str, Any] = {
    "vocab_size": 32000,
    "hidden_size": 768,
    "intermediate_size": 2048,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "num_key_value_heads": 4,
    "segment_length": 1024,
    "num_memory_tokens": 16,
    "max_position_embeddings": 8192,
}
DRY_RUN_BACKBONE: dict[str, Any] = {
    "vocab_size": 512,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "segment_length": 1024,
    "num_memory_tokens": 16,
}


def config_125m(name: str, small: bool = False) -> LM2Config:
    """The ~125M-parameter config of model variant `name` (`lm2.model.variants`); `small`: the dry-run shape."""
    return variant_config(name, DRY_RUN_BACKBONE if small else GPU_BACKBONE)


def training_throughput(
    config: LM2Config,
    device: str,
    compile_blocks: bool,
    steps: int,
    peak_tflops: float,
    batch: int = 8,
    length: int = 4096,
) -> dict[str, Any]:
    """bf16-autocast training steps (fused AdamW on CUDA): 3 warm-up steps, then `steps` timed ones."""
    torch.manual_seed(0)
    model = LM2ForCausalLM(config).to(device).train()
    if compile_blocks:
        for layer in model.model.layers:
            layer.compile()
    cuda = torch.device(device).type == "cuda"
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=cuda)
    ids = torch.randint(4, config.vocab_size, (batch, length), device=device)

    def step() -> torch.Tensor:
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
            loss = model(ids, labels=ids).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    start = time.time()
    for _ in range(3):
        step()
    synchronize(device)
    warmup = time.time() - start
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start = time.time()
    for _ in range(steps):
        loss = step()
    synchronize(device)
    seconds = (time.time() - start) / steps
    flops = training_flops(config, batch, length)
    return {
        "params": parameter_counts(config)["total"],
        "flops": flops,
        "tokens_per_s": batch * length / seconds,
        "step_s": seconds,
        "model_tflops_per_s": flops / seconds / 1e12,
        "mfu": flops / seconds / (peak_tflops * 1e12),
        "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
        "warmup_s": warmup,
        "loss": loss.item(),
    }


def run_gpu(
    models: list[str] | None = None,
    steps: int = 8,
    peak_tflops: float = H100_BF16_TFLOPS,
    tf32: bool = False,
    compile_modes: tuple[bool, ...] = (False, True),
    dry_run: bool = False,
) -> dict[str, Any]:
    """Throughput of every model, eager and compiled. Raises `RuntimeError` without CUDA unless `dry_run`."""
    if not dry_run and not torch.cuda.is_available():
        raise RuntimeError("no CUDA device: torch.cuda.is_available() is False")
    device = "cpu" if dry_run else "cuda"
    batch, length = (1, 512) if dry_run else (8, 4096)
    models = models or list(DEFAULT_MODELS)
    torch.backends.cuda.matmul.allow_tf32 = tf32
    # Blocks share one code object; specialisations (first memory block or not, segment start) need room.
    torch._dynamo.config.cache_size_limit = 64
    torch._dynamo.config.recompile_limit = 64
    result: dict[str, Any] = {
        "benchmark": "gpu",
        "machine": {**machine(torch.get_num_threads(), device), "peak_bf16_tflops_assumed": peak_tflops},
        "tf32": tf32,
        "batch": batch,
        "length": length,
        "steps": steps,
        "dry_run": dry_run,
        "models": {},
    }
    for name in models:
        result["models"][name] = {}
        for compiled in compile_modes:
            mode = "compiled" if compiled else "eager"
            log.info("gpu: %s %s", name, mode)
            config = config_125m(name, small=dry_run)
            try:
                row = training_throughput(config, device, compiled, steps, peak_tflops, batch, length)
            except Exception as err:  # one failing model must not hide the others' numbers
                log.exception("gpu: %s %s failed", name, mode)
                row = {"error": f"{type(err).__name__}: {err}"}
            result["models"][name][mode] = row
            torch._dynamo.reset()
            if not dry_run:
                torch.cuda.empty_cache()
    return result


def gpu_table(result: dict[str, Any]) -> str:
    """One row per model and mode; `step ×` is the step time over vanilla-segmented's in the same mode (the
    memory-less model of the same span), next to the ratio of their model FLOPs."""
    headers = ["model", "params", "mode", "tokens/s", "MFU", "step s", f"step × {BASELINE}", "FLOPs ×", "peak GiB"]
    rows = []
    for name, modes in result["models"].items():
        for mode, r in modes.items():
            if "error" in r:
                rows.append([name, "", mode, r["error"][:60], "", "", "", "", ""])
                continue
            base = result["models"].get(BASELINE, {}).get(mode, {})
            ratios = ["", ""]
            if "step_s" in base:
                ratios = [f"{r['step_s'] / base['step_s']:.2f}", f"{r['flops'] / base['flops']:.2f}"]
            peak = "" if r["peak_mem_gib"] is None else f"{r['peak_mem_gib']:.1f}"
            rows.append(
                [
                    name,
                    f"{r['params'] / 1e6:.1f}M",
                    mode,
                    f"{r['tokens_per_s']:,.0f}",
                    f"{100 * r['mfu']:.1f} %",
                    f"{r['step_s']:.3f}",
                    *ratios,
                    peak,
                ]
            )
    m = result["machine"]
    head = (
        f"bf16 training, batch {result['batch']} x {result['length']} tokens, "
        f"TF32 {'on' if result['tf32'] else 'off'}, "
        f"MFU against {m['peak_bf16_tflops_assumed']:g} TFLOP/s on {m.get('gpu', m['cpu'])}\n"
    )
    return head + markdown_table(headers, rows)
