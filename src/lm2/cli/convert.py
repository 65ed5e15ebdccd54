"""`lm2 convert`: add memory to a pretrained Hugging Face Llama checkpoint (LlamaForCausalLM, safetensors).

Every Llama weight is kept; the memory parameters are new and initialised so that the converted model
starts as the Llama: for `--arch lm2` its logits equal the Llama's exactly on inputs of up to
`--segment-length` tokens (a zero-initialised, learnable gain on the gated memory), and so do
`--arch armt`'s (a zero-initialised gain on the associative read; its memory tokens only write). For
`--arch rmt` the memory tokens start at zero but still take some attention, so the logits differ (measured
by the check).
An `--out` that holds anything but an earlier conversion with the same options is refused unless
`--overwrite` (which clears it first); the folder is written under a temporary name and renamed into place.
The folder written loads with `LM2ForCausalLM.from_pretrained` and works with `lm2 generate`,
`lm2 inspect` and lm-eval. See docs/ecosystem.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lm2.cli.common import DTYPE_HELP, UsageError, add_command, parse_indices
from lm2.cli.outputs import add_overwrite_option, claim_folder, run_options, write_record


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "convert", run, description=__doc__)
    p.add_argument("--from-llama", type=Path, required=True, metavar="DIR", help="Llama checkpoint folder")
    p.add_argument("--arch", choices=("lm2", "rmt", "armt", "vanilla"), default="lm2", help="default lm2")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write (a new one, or --overwrite)")
    add_overwrite_option(p)
    p.add_argument(
        "--segment-length",
        type=int,
        help="tokens per segment (default: 2048, at most the Llama's max_position_embeddings); lm2's and "
        "armt's logits equal the Llama's for inputs up to this length",
    )
    p.add_argument("--memory-layers", help="lm2: comma-separated blocks with memory (default: all)")
    p.add_argument("--memory-heads", type=int, help="lm2: memory heads (default: the attention heads)")
    p.add_argument("--num-memory-tokens", type=int, default=16, help="rmt, armt: memory tokens (default 16)")
    p.add_argument("--dtype", default="auto", help=DTYPE_HELP)
    p.add_argument(
        "--check-tokens",
        type=int,
        default=64,
        help="compare logits with the Llama on 2 x N random tokens, N <= one segment (0: skip; default 64)",
    )


def memory_options(args: argparse.Namespace) -> dict:
    """The memory fields for `convert_llama` from the options; `UsageError` names a wrong one."""
    options: dict = {}
    if args.arch == "lm2":
        if args.memory_layers:
            options["memory_layers"] = parse_indices(args.memory_layers, "--memory-layers")
        if args.memory_heads is not None:
            options["memory_heads"] = args.memory_heads
    elif args.arch in ("rmt", "armt"):
        options["num_memory_tokens"] = args.num_memory_tokens
    if args.check_tokens < 0:
        raise UsageError(f"--check-tokens={args.check_tokens} must be >= 0 (0 skips the check)")
    return options


def run(args: argparse.Namespace) -> int:
    from lm2.integrations.convert import (
        compare_with_llama,
        convert_llama,
        is_memory_parameter,
        save_converted,
    )

    options = memory_options(args)
    identity = run_options(args)
    claim_folder(args.out, identity, args.overwrite, write=False)  # `save_converted` replaces the folder whole
    model = convert_llama(args.from_llama, args.arch, args.segment_length, args.dtype, **options)
    cfg = model.config
    total = sum(p.numel() for p in model.parameters())
    added = sum(p.numel() for name, p in model.named_parameters() if is_memory_parameter(name))
    where = {
        "lm2": f"{len(cfg.memory_layer_ids)} blocks",
        "rmt": f"{cfg.num_memory_tokens} tokens",
        "armt": f"{cfg.num_memory_tokens} tokens, associative memory in {cfg.num_hidden_layers} blocks",
    }
    print(f"converted {args.from_llama} (Llama, {total - added:,} parameters) to arch={cfg.arch}, "
          f"segment_length={cfg.segment_length}, dtype={model.dtype}")  # fmt: skip
    if added:
        print(f"added {added:,} memory parameters ({where[cfg.arch]}); {total:,} in all")
    if args.check_tokens:
        length = min(args.check_tokens, cfg.segment_length or args.check_tokens)
        check = compare_with_llama(model, args.from_llama, length=length)
        print(f"check on 2 x {length} random tokens: max |logit - Llama logit| = {check['max_abs_diff']:.3g} "
              f"(largest |logit| {check['max_logit']:.3g}), same top token at "
              f"{check['argmax_agreement']:.1%} of positions")  # fmt: skip
    files = save_converted(model, args.from_llama, args.out)
    write_record(args.out, identity)
    print(f"wrote {args.out}: {', '.join(files)}")
    return 0
