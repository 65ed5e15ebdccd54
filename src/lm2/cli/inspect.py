"""`lm2 inspect`: record and plot what an LM2 model's memory does on an input (the paper's analysis).

For each memory block: the read attention of every token over the bank rows (heatmaps, as the paper's
Figure 6), the input/forget/output gates and the norm of the row each token writes (traces over the input),
and the norm of every bank row after each segment. Writes trace.pt (`MemoryTrace.load`) and three PNG files
into --out and prints a summary per block. The model is not modified (forward hooks only).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lm2.cli.common import (
    add_command,
    add_device_options,
    add_model_option,
    add_text_options,
    check_at_least_one,
    parse_indices,
)
from lm2.cli.outputs import add_overwrite_option, claim_folder, run_options


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "inspect", run, description=__doc__)
    add_model_option(p, help="lm2 model folder with its tokenizer")
    add_text_options(p, what="the input")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for trace.pt and the PNGs")
    add_overwrite_option(p)
    p.add_argument("--max-tokens", type=int, default=1024, help="inspect the first N tokens (default 1024)")
    p.add_argument("--blocks", help="comma-separated memory blocks to record (default: all)")
    p.add_argument("--keep-heads", action="store_true", help="keep the read attention per memory head")
    p.add_argument("--no-bos", action="store_true", help="do not start the input with the BOS token")
    add_device_options(p, threads=False)


def run(args: argparse.Namespace) -> int:
    import torch

    from lm2.analysis.inspect import plot_trace, read_entropy, record_memory
    from lm2.integrations.pretrained import load_pretrained
    from lm2.integrations.stream import open_prompt, text_pieces, token_chunks

    check_at_least_one(args, "max_tokens")
    blocks = parse_indices(args.blocks, "--blocks")
    model, tokenizer = load_pretrained(args.model, args.device, args.dtype)
    claim_folder(args.out, run_options(args), args.overwrite)
    bos = None if args.no_bos else tokenizer.bos_token_id
    with open_prompt(args.prompt, args.file) as (stream, _):
        ids = next(token_chunks(tokenizer, text_pieces(stream), args.max_tokens, None if bos is None else [bos]), [])
    if not ids:
        raise ValueError("the input is empty; give some text")
    trace = record_memory(model, torch.tensor([ids], device=model.device), blocks, args.keep_heads)
    trace.save(args.out / "trace.pt")
    pictures = plot_trace(trace, args.out)
    entropy = read_entropy(trace)[:, 0].mean(-1)  # (k,) bits
    segments, rows = f"{trace.segments} segments of {trace.segment_length}", trace.bank_norm.shape[-1]
    mean = " and their mean" if trace.read.shape[-1] > rows else ""  # memory_read_center="split" or "gated"
    mean += " through its gate" if trace.mean_gate else ""
    print(f"recorded {len(trace.blocks)} memory blocks over {len(ids)} tokens ({segments}, {rows} bank rows{mean})")
    print("| block | g_in | g_in exactly shut | g_f | g_out | read entropy (bits) | written row norm |")
    print("|---|---|---|---|---|---|---|")
    for j, block in enumerate(trace.blocks):
        means = (trace.gate_in, trace.gate_forget, trace.gate_out)  # g_f: none with memory_write="addressed"
        gates = ["—" if g is None else f"{g[j, 0].mean().item():.3f}" for g in means]
        gates.insert(1, f"{100 * trace.gate_in_shut[j, 0].mean().item():.1f} %")
        written = "—" if trace.row_norm is None else f"{trace.row_norm[j, 0].mean().item():.3f}"
        row = f"{entropy[j].item():.2f} | {written}"
        print(f"| {block} | {' | '.join(gates)} | {row} |")
    first, last = trace.bank_norm[0, 0], trace.bank_norm[0, -1]
    print(
        f"bank row norm: mean {first.mean().item():.3f} (M_0) -> {last.mean().item():.3f} after segment "
        f"{trace.segments} (min {last.min().item():.3f}, max {last.max().item():.3f})"
    )
    similar = trace.bank_similarity[0]
    print(f"bank row similarity (mean cosine of two rows): {similar[0].item():.3f} (M_0) -> {similar[-1].item():.3f}")
    print(f"wrote {args.out}: trace.pt, {', '.join(p.name for p in pictures)}")
    return 0
