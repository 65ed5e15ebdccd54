"""One prepared GPU check: CUDA correctness (streaming, cache, bf16 autocast, SDPA, torch.compile) and
bf16 training throughput / model-FLOPs utilisation of a ~125M-parameter config of each architecture
(the throughput part is `lm2 bench gpu`'s code, `lm2.bench.gpu`).

Usage: python scripts/gpu_check.py --out DIR [--steps 8] [--peak-tflops 989]
Writes DIR/gpu_check.json after every section, so a run cut short still reports what it measured.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import traceback
from pathlib import Path

import torch

from lm2 import LM2Config, LM2ForCausalLM
from lm2.bench.gpu import config_125m, training_throughput

RESULTS: dict = {}
DEVICE = "cuda"  # --device cpu runs the same checks as a dry run


def save(out: Path) -> None:
    (out / "gpu_check.json").write_text(json.dumps(RESULTS, indent=2))


def section(name: str, out: Path):
    def wrap(fn):
        t = time.time()
        try:
            RESULTS[name] = fn()
        except Exception as err:  # keep going: one broken section must not hide the others
            RESULTS[name] = {"error": f"{type(err).__name__}: {err}", "trace": traceback.format_exc()[-2000:]}
        RESULTS[name] = (
            {**RESULTS[name], "seconds": round(time.time() - t, 1)}
            if isinstance(RESULTS[name], dict)
            else RESULTS[name]
        )
        print(name, json.dumps(RESULTS[name])[:600], flush=True)
        save(out)

    return wrap


def sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def tiny(arch: str, **kw) -> LM2ForCausalLM:
    torch.manual_seed(0)
    cfg = LM2Config(
        arch=arch,
        vocab_size=128,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        segment_length=16,
        num_memory_tokens=4,
        **kw,
    )
    model = LM2ForCausalLM(cfg).eval()
    model.generation_config.eos_token_id = None
    return model


def correctness() -> dict:
    """fp32 on CUDA vs fp64 on CPU; streaming and cached decoding on CUDA."""
    out = {}
    for arch in ("lm2", "rmt", "vanilla"):
        model = tiny(arch)
        ids = torch.randint(4, 128, (3, 70))
        ref = model.double()(ids).logits
        cuda = model.float().to(DEVICE)
        whole = cuda(ids.to(DEVICE))
        a = cuda(ids[:, :23].to(DEVICE))
        b = cuda(ids[:, 23:].to(DEVICE), memory=a.memory)
        stream = torch.cat([a.logits, b.logits], 1)
        gen = cuda.generate(ids[:, :5].to(DEVICE), max_new_tokens=40, do_sample=False)
        seq = ids[:, :5].to(DEVICE)
        for _ in range(40):
            seq = torch.cat([seq, cuda(seq).logits[:, -1].argmax(-1, keepdim=True)], 1)
        out[arch] = {
            "cuda_fp32_vs_cpu_fp64_max_abs": (whole.logits.double().cpu() - ref).abs().max().item(),
            "stream_vs_whole_max_abs": (stream - whole.logits).abs().max().item(),
            "greedy_generate_equals_argmax_path": bool(torch.equal(gen, seq)),
        }
    return out


def bf16() -> dict:
    """bf16 autocast: the bank stays fp32, logits stay close to fp32, training reduces the loss."""
    out = {}
    for arch in ("lm2", "rmt", "vanilla"):
        model = tiny(arch).to(DEVICE)
        ids = torch.randint(4, 128, (4, 64), device=DEVICE)
        ref = model(ids).logits
        with torch.autocast(DEVICE, dtype=torch.bfloat16):
            res = model(ids)
        rel = ((res.logits.float() - ref).norm() / ref.norm()).item()
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
        losses = []
        for _ in range(30):
            with torch.autocast(DEVICE, dtype=torch.bfloat16):
                loss = model(ids, labels=ids).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        out[arch] = {
            "bank_dtype": str(res.memory.memory.dtype) if res.memory.memory is not None else None,
            "logits_rel_err_vs_fp32": rel,
            "loss_first_last": [losses[0], losses[-1]],
        }
    return out


def compiled_correctness() -> dict:
    """torch.compile of each block: same loss and gradients as eager (fp32)."""
    out = {}
    for arch in ("lm2", "rmt", "vanilla"):
        eager = tiny(arch).to(DEVICE).train()
        comp = tiny(arch).to(DEVICE).train()
        for layer in comp.model.layers:
            layer.compile()
        ids = torch.randint(4, 128, (4, 64), device=DEVICE)
        le = eager(ids, labels=ids).loss
        lc = comp(ids, labels=ids).loss
        le.backward()
        lc.backward()
        ge = torch.cat([p.grad.flatten() for p in eager.parameters() if p.grad is not None])
        gc = torch.cat([p.grad.flatten() for p in comp.parameters() if p.grad is not None])
        out[arch] = {
            "loss_diff": abs(le.item() - lc.item()),
            "grad_max_abs_diff": (ge - gc).abs().max().item(),
        }
    return out


def throughput(arch: str, compile_blocks: bool, steps: int, peak_tflops: float) -> dict:
    """The ~125M config's bf16 training throughput, measured by `lm2 bench gpu`'s code (`lm2.bench.gpu`)."""
    small = DEVICE != "cuda"  # dry run: a small shape
    batch, length = (1, 2048) if small else (8, 4096)
    config = config_125m(arch, small=small)
    return training_throughput(config, DEVICE, compile_blocks, steps, peak_tflops, batch, length)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tf32", action="store_true", help="allow TF32 for fp32 matmuls (the memory path)")
    parser.add_argument("--only", default="", help="comma-separated section prefixes to run (default: all)")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of the GPU")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    global DEVICE
    DEVICE = args.device
    RESULTS["machine"] = {
        "gpu": torch.cuda.get_device_name(0) if DEVICE == "cuda" else platform.processor(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "peak_bf16_tflops_assumed": args.peak_tflops,
        "tf32": args.tf32,
    }
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    # Blocks share one code object; specialisations (first memory block or not, segment start) need room.
    torch._dynamo.config.cache_size_limit = 64
    torch._dynamo.config.recompile_limit = 64
    wanted = [w for w in args.only.split(",") if w]

    def run(name: str, fn) -> None:
        if not wanted or any(name.startswith(w) for w in wanted):
            section(name, args.out)(fn)
            torch._dynamo.reset()
            if DEVICE == "cuda":
                torch.cuda.empty_cache()

    run("correctness", correctness)
    run("bf16_autocast", bf16)
    run("compile_correctness", compiled_correctness)
    for compile_blocks in (False, True):
        for arch in ("vanilla", "vanilla-segmented", "lm2", "rmt"):
            name = f"throughput_{arch}_{'compiled' if compile_blocks else 'eager'}"
            run(name, lambda a=arch, c=compile_blocks: throughput(a, c, args.steps, args.peak_tflops))


if __name__ == "__main__":
    main()
