"""`lm2 generate`: continue a prompt of any length with a saved model.

The prompt (`--prompt TEXT`, or `--file PATH`, `-` for standard input) is read and tokenized in pieces and
run through the model in chunks of `--chunk-size` tokens, carrying the memory state with only the last
position's logits computed; so a prompt of any length needs the memory of one chunk, not of the whole
prompt (lm2, rmt, segmented vanilla; full-attention vanilla keeps a growing cache). Generation then continues
from the state. The continuation goes to standard output; progress and `--stats` to standard error.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Iterable, Iterator

from lm2.cli.common import (
    UsageError,
    add_command,
    add_device_options,
    add_model_option,
    add_text_options,
    check_at_least_one,
)

LONG_PROMPT_BYTES = 256 * 1024  # show a progress bar from this prompt size on (or for standard input)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "generate", run, description=__doc__)
    add_model_option(p)
    add_text_options(p)
    p.add_argument("--max-new-tokens", type=int, default=64, help="tokens to generate (default 64)")
    p.add_argument("--greedy", action="store_true", help="greedy decoding (default: sampling)")
    p.add_argument("--temperature", type=float, help="sampling temperature > 0 (default 1.0)")
    p.add_argument("--top-k", type=int, help="sample among the k most likely tokens, 0: all (default 50)")
    p.add_argument("--top-p", type=float, help="nucleus sampling: smallest set with this mass (default 1.0)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--chunk-size", type=int, default=4096, help="prompt tokens per forward call (default 4096)")
    p.add_argument("--no-bos", action="store_true", help="do not start the prompt with the tokenizer's BOS token")
    add_device_options(p)
    p.add_argument("--stats", action="store_true", help="print a JSON line of statistics to standard error")


def sampling_options(args: argparse.Namespace) -> dict:
    """`generate` keyword arguments from the decoding options; `UsageError` names a wrong one."""
    check_at_least_one(args, "max_new_tokens", "threads", "chunk_size")
    given = {
        name: value
        for name, value in (("temperature", args.temperature), ("top_k", args.top_k), ("top_p", args.top_p))
        if value is not None
    }
    if args.greedy:
        if given:
            flags = ", ".join(f"--{name.replace('_', '-')}" for name in given)
            raise UsageError(f"--greedy decodes deterministically; drop {flags} or drop --greedy")
        return {"do_sample": False, "max_new_tokens": args.max_new_tokens}
    options = {"temperature": 1.0, "top_k": 50, "top_p": 1.0, **given}
    if options["temperature"] <= 0:
        raise UsageError(f"--temperature={options['temperature']} must be > 0 (use --greedy for argmax)")
    if options["top_k"] < 0:
        raise UsageError(f"--top-k={options['top_k']} must be >= 0 (0: no top-k filtering)")
    if not 0 < options["top_p"] <= 1:
        raise UsageError(f"--top-p={options['top_p']} must be in (0, 1]")
    return {"do_sample": True, "max_new_tokens": args.max_new_tokens, **options}


def run(args: argparse.Namespace) -> int:
    from lm2.integrations.pretrained import load_pretrained

    options = sampling_options(args)
    model, tokenizer = load_pretrained(args.model, args.device, args.dtype)
    return _generate(args, model, tokenizer, options)


def _generate(args: argparse.Namespace, model, tokenizer, options: dict) -> int:
    import torch

    from lm2.integrations.stream import state_bytes

    if args.threads:
        torch.set_num_threads(args.threads)
    stats = {"prompt_tokens": 0, "chunks": 0, "state_bytes_max": 0}
    peak_before = _peak_rss_mib()
    start = time.perf_counter()
    state, last = _prefill_prompt(args, model, tokenizer, stats)
    prompt_seconds = time.perf_counter() - start
    torch.manual_seed(args.seed)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    start = time.perf_counter()
    with torch.no_grad():
        out = model.generate(torch.tensor([[last]], device=model.device), memory=state, pad_token_id=pad, **options)
    new = out[0, 1:].tolist()
    print(tokenizer.decode(new, skip_special_tokens=True))
    if args.stats:
        stats.update(
            prompt_seconds=round(prompt_seconds, 3),
            prompt_tokens_per_s=round(stats["prompt_tokens"] / max(prompt_seconds, 1e-9)),
            state_bytes_final=state_bytes(state),
            new_tokens=len(new),
            generate_seconds=round(time.perf_counter() - start, 3),
            peak_rss_mib=round(_peak_rss_mib(), 1),
            peak_rss_growth_mib=round(_peak_rss_mib() - peak_before, 1),
        )
        print(json.dumps(stats), file=sys.stderr)
    return 0


def _prefill_prompt(args: argparse.Namespace, model, tokenizer, stats: dict):
    """Stream every prompt token but the last through the model; returns (state, last token id)."""
    import torch
    from tqdm import tqdm

    from lm2.integrations.stream import (
        hold_last,
        open_prompt,
        prefill,
        state_bytes,
        text_pieces,
        token_chunks,
    )

    bos = None if args.no_bos else tokenizer.bos_token_id
    state, last = None, None
    with open_prompt(args.prompt, args.file) as (stream, size):
        long = size is None or size >= LONG_PROMPT_BYTES
        with tqdm(total=size, unit="B", unit_scale=True, desc="prompt", disable=not long) as bar:
            chunks = token_chunks(tokenizer, _counted(text_pieces(stream), bar), args.chunk_size, _ids(bos))
            for chunk, final in hold_last(chunks):
                if chunk:
                    state = prefill(model, [torch.tensor([chunk], device=model.device)], state)
                    stats["chunks"] += 1
                    stats["state_bytes_max"] = max(stats["state_bytes_max"], state_bytes(state))
                stats["prompt_tokens"] += len(chunk) + (final is not None)
                last = final if final is not None else last
    if last is None:
        raise ValueError("the prompt is empty and the tokenizer has no BOS token to start from")
    return state, last


def _ids(token: int | None) -> list[int] | None:
    return None if token is None else [token]


def _counted(pieces: Iterable[str], bar) -> Iterator[str]:
    for piece in pieces:
        bar.update(len(piece.encode("utf-8")))
        yield piece


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
