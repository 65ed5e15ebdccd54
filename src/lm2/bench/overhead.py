"""`lm2 bench overhead`: what the memory costs. Training step and inference throughput of `lm2`, `rmt`,
`vanilla-segmented` (same backbone and segment length, no memory) and full-attention `vanilla`, with the
analytic FLOP ratio beside the measured time ratio, both against `vanilla-segmented`.

Target (issue 8): lm2's measured time ratio is at most 1.15 x its FLOP ratio at the default config.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from lm2.model.flops import forward_flops_per_token, parameter_counts
from lm2.model.variants import DEFAULT_MODELS

from .common import (
    BACKBONE,
    BASELINE,
    bench_config,
    build_model,
    interleaved,
    load_average,
    machine,
    markdown_table,
    median,
    paired_ratio,
    spread,
)

log = logging.getLogger(__name__)

TARGET = 1.15  # lm2's time ratio / FLOP ratio must not exceed this


def run_overhead(
    models: list[str] | None = None,
    backbone: dict[str, Any] | None = None,
    batch: int = 4,
    segments: int = 4,
    repeats: int = 9,
    threads: int = 1,
    device: str = "cpu",
    seed: int = 0,
) -> dict[str, Any]:
    """Time a training step (forward + backward + AdamW) and an inference forward of every model on the same
    random batch of `batch` x `segments` segments, interleaved over `repeats` rounds (inference, about
    four times cheaper, over 3 x `repeats`). Time ratios are paired per round (`common.paired_ratio`)."""
    backbone = backbone or BACKBONE
    models = list(models or DEFAULT_MODELS)
    if BASELINE not in models:
        models.insert(0, BASELINE)
    torch.set_num_threads(threads)
    length = segments * backbone["segment_length"]
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, backbone["vocab_size"], (batch, length), generator=generator).to(device)
    nets = {name: build_model(name, backbone, seed).to(device) for name in models}
    optimizers = {name: torch.optim.AdamW(net.parameters(), lr=1e-4) for name, net in nets.items()}

    def train_step(name: str) -> None:
        net, opt = nets[name].train(), optimizers[name]
        loss = net(ids, labels=ids).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    @torch.no_grad()
    def infer(name: str) -> None:
        nets[name].eval()(ids)

    result: dict[str, Any] = {
        "benchmark": "overhead",
        "machine": machine(threads, device),
        "backbone": backbone,
        "batch": batch,
        "length": length,
        "repeats": {"train": repeats, "infer": 3 * repeats},
        "baseline": BASELINE,
        "target_time_over_flop_ratio": TARGET,
        "models": {},
    }
    phases = {"train": train_step, "infer": infer}
    times = {}
    for phase, fn in phases.items():
        rounds = result["repeats"][phase]
        log.info("overhead: %s, %d rounds of %s", phase, rounds, ", ".join(models))
        times[phase] = interleaved({n: (lambda n=n, fn=fn: fn(n)) for n in models}, rounds, device=device)
    for name in models:
        result["models"][name] = _model_row(name, backbone, batch, length, times)
    result["machine"]["load_average_1m_at_end"] = load_average()
    if "lm2" in result["models"]:
        lm2 = result["models"]["lm2"]
        result["target_met"] = {phase: lm2[phase]["time_over_flop_ratio"] <= TARGET for phase in phases}
    return result


def _model_row(
    name: str, backbone: dict[str, Any], batch: int, length: int, times: dict[str, dict[str, list[float]]]
) -> dict[str, Any]:
    """Parameters, FLOPs and FLOP ratio of one model; per phase its median time and its paired time ratio."""
    cfg = bench_config(name, backbone)
    flops = forward_flops_per_token(cfg, length)
    row: dict[str, Any] = {
        "params": parameter_counts(cfg)["total"],
        "forward_flops_per_token": flops,
        "flop_ratio": flops / forward_flops_per_token(bench_config(BASELINE, backbone), length),
    }
    for phase, phase_times in times.items():
        seconds = median(phase_times[name])
        ratio = paired_ratio(phase_times[name], phase_times[BASELINE])
        row[phase] = {
            "seconds": seconds,
            "tokens_per_s": batch * length / seconds,
            "spread": spread(phase_times[name]),
            "time_ratio": ratio,
            "time_over_flop_ratio": ratio / row["flop_ratio"],
            "all_seconds": phase_times[name],
        }
    return row


def overhead_table(result: dict[str, Any]) -> str:
    headers = [
        "model",
        "params",
        "FLOP ratio",
        "train step s",
        "train tok/s",
        "train time ratio",
        "time/FLOP",
        "infer tok/s",
        "infer time ratio",
        "time/FLOP",
    ]
    rows = []
    for name, r in result["models"].items():
        t, i = r["train"], r["infer"]
        rows.append(
            [
                name,
                f"{r['params'] / 1e6:.2f}M",
                f"{r['flop_ratio']:.3f}",
                f"{t['seconds']:.3f} ±{100 * t['spread']:.0f}%",
                f"{t['tokens_per_s']:,.0f}",
                f"{t['time_ratio']:.3f}",
                f"{t['time_over_flop_ratio']:.3f}",
                f"{i['tokens_per_s']:,.0f}",
                f"{i['time_ratio']:.3f}",
                f"{i['time_over_flop_ratio']:.3f}",
            ]
        )
    text = markdown_table(headers, rows)
    if "target_met" in result:
        lm2 = result["models"]["lm2"]
        text += "\n\n" + "; ".join(
            f"lm2 {phase}: time ratio / FLOP ratio = {lm2[phase]['time_over_flop_ratio']:.3f} "
            f"(target <= {TARGET}: {'met' if met else 'MISSED'})"
            for phase, met in result["target_met"].items()
        )
    return text
