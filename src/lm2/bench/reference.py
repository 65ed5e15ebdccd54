"""`lm2 bench reference`: our `vanilla` against Hugging Face's `LlamaForCausalLM` with the same config and
the same weights (our parameter names are Llama's, so the state dict loads with `strict=True`).

Measured: forward + backward with the loss, and cached greedy generation (tokens/s). Before timing, the
two models must agree (logits within float tolerance, identical generated tokens), so the comparison is of
two implementations of one function. Target (issue 8): ours is not slower, ratio HF time / our time >= 1.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from lm2.integrations.convert import LLAMA_FIELDS
from lm2.model import LM2Config, LM2ForCausalLM

from .common import (
    BACKBONE,
    interleaved,
    load_average,
    machine,
    markdown_table,
    median,
    paired_ratio,
    spread,
)

log = logging.getLogger(__name__)


def llama_shape(backbone: dict[str, Any] | None) -> dict[str, Any]:
    """The fields of `backbone` (default `BACKBONE`) that a `LlamaConfig` has too."""
    return {k: v for k, v in (backbone or BACKBONE).items() if k in LLAMA_FIELDS}


def reference_pair(backbone: dict[str, Any] | None = None, seed: int = 0) -> tuple[LlamaForCausalLM, LM2ForCausalLM]:
    """A random `LlamaForCausalLM` (SDPA attention) and our full-attention `vanilla` with its weights."""
    shape = llama_shape(backbone)
    rope = {"rope_type": "default", "rope_theta": 500000.0}
    common = dict(shape, rms_norm_eps=1e-5, max_position_embeddings=8192, pad_token_id=0, eos_token_id=None)
    torch.manual_seed(seed)
    llama = LlamaForCausalLM(LlamaConfig(**common, rope_parameters=dict(rope), attn_implementation="sdpa"))
    ours = LM2ForCausalLM(
        LM2Config(arch="vanilla", vanilla_mode="full", segment_length=None, rope_parameters=dict(rope), **common)
    )
    ours.load_state_dict(llama.state_dict(), strict=True)
    for model in (llama, ours):
        model.generation_config.eos_token_id = None
        model.generation_config.pad_token_id = 0
    return llama, ours


def run_reference(
    backbone: dict[str, Any] | None = None,
    batch: int = 4,
    length: int = 512,
    gen_batches: tuple[int, ...] = (1, 4),
    prompt: int = 32,
    new_tokens: int = 128,
    repeats: int = 9,
    threads: int = 1,
    device: str = "cpu",
    seed: int = 0,
) -> dict[str, Any]:
    """Forward + backward on `batch` x `length` tokens, and greedy generation of `new_tokens` after a
    `prompt`-token prompt for each batch size in `gen_batches`; both models interleaved over `repeats`."""
    torch.set_num_threads(threads)
    llama, ours = (m.to(device) for m in reference_pair(backbone, seed))
    vocab = llama.config.vocab_size
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, vocab, (batch, length), generator=generator).to(device)
    prompts = torch.randint(4, vocab, (max(gen_batches), prompt), generator=generator).to(device)
    models = {"transformers": llama, "lm2 vanilla": ours}

    max_abs = _logit_difference(llama, ours, ids)

    def train_step(model: torch.nn.Module) -> None:
        model.train().zero_grad(set_to_none=True)
        model(ids, labels=ids).loss.backward()

    @torch.no_grad()
    def generate(model: torch.nn.Module, rows: int) -> torch.Tensor:
        kwargs = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
        return model.eval().generate(prompts[:rows], **kwargs)

    rows = max(gen_batches)
    same_tokens = bool(torch.equal(generate(llama, rows), generate(ours, rows)))
    if not same_tokens:  # not fatal: greedy argmax may flip on a float tie, but it must be reported
        log.warning("reference: greedy generations differ between transformers and lm2 vanilla")
    tasks = {"forward_backward": (train_step, batch * length)}
    for rows in gen_batches:
        tasks[f"generate_batch_{rows}"] = (lambda m, rows=rows: generate(m, rows), rows * new_tokens)
    result: dict[str, Any] = {
        "benchmark": "reference",
        "machine": machine(threads, device),
        "backbone": llama_shape(backbone),
        "forward_backward_shape": [batch, length],
        "generate_shape": {"batches": list(gen_batches), "prompt": prompt, "new_tokens": new_tokens},
        "repeats": repeats,
        "logits_max_abs_diff": max_abs,
        "same_generated_tokens": same_tokens,
        "tasks": {},
    }
    for task, (fn, tokens) in tasks.items():
        log.info("reference: %s, %d rounds", task, repeats)
        result["tasks"][task] = _time_task(fn, tokens, models, repeats, device)
    result["machine"]["load_average_1m_at_end"] = load_average()
    return result


def _time_task(
    fn: Callable[[torch.nn.Module], object],
    tokens: int,
    models: dict[str, torch.nn.Module],
    repeats: int,
    device: str,
) -> dict[str, Any]:
    """`fn(model)` timed for both models, interleaved; per model the median, tokens/s and spread, then the
    paired ratio transformers time / our time."""
    times = interleaved({n: (lambda m=m: fn(m)) for n, m in models.items()}, repeats, device=device)
    row: dict[str, Any] = {
        name: {"seconds": median(t), "tokens_per_s": tokens / median(t), "spread": spread(t), "all_seconds": t}
        for name, t in times.items()
    }
    row["ratio"] = paired_ratio(times["transformers"], times["lm2 vanilla"])
    row["target_met"] = row["ratio"] >= 1.0
    return row


@torch.no_grad()
def _logit_difference(llama: LlamaForCausalLM, ours: LM2ForCausalLM, ids: torch.Tensor) -> float:
    """Max |logit difference|; raises if the two models do not compute the same function."""
    max_abs = (llama.eval()(ids).logits - ours.eval()(ids).logits).abs().max().item()
    if max_abs > 1e-3:
        raise RuntimeError(f"our vanilla and LlamaForCausalLM disagree (max |logit diff| {max_abs:.2e})")
    return max_abs


def reference_table(result: dict[str, Any]) -> str:
    headers = ["task", "transformers tok/s", "lm2 vanilla tok/s", "ratio (HF time / ours)", "target >= 1.0"]
    rows = []
    for task, r in result["tasks"].items():
        hf, ours = r["transformers"], r["lm2 vanilla"]
        label = "forward + backward" if task == "forward_backward" else f"cached generation, batch {task[15:]}"
        rows.append(
            [
                label,
                f"{hf['tokens_per_s']:,.0f} ±{100 * hf['spread']:.0f}%",
                f"{ours['tokens_per_s']:,.0f} ±{100 * ours['spread']:.0f}%",
                f"{r['ratio']:.3f}",
                "met" if r["target_met"] else "MISSED",
            ]
        )
    note = (
        f"\n\nsame weights: max |logit difference| {result['logits_max_abs_diff']:.1e}; "
        f"identical greedy tokens: {'yes' if result['same_generated_tokens'] else 'NO'}"
    )
    return markdown_table(headers, rows) + note
