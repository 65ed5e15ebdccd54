"""`lm2 convert`: add memory to a pretrained Hugging Face Llama checkpoint (LlamaForCausalLM, safetensors).

Every Llama weight is kept; the memory parameters are new and initialised so that the converted model
starts as the Llama: for `--arch lm2` its logits equal the Llama's exactly on inputs of up to
`--segment-length` tokens (a zero-initialised, learnable gain on the gated memory). For `--arch rmt` the
memory tokens start at zero but still take some attention, so the logits differ (measured by the check).
The folder written loads with `LM2ForCausalLM.from_pretrained` and works with `lm2 generate`,
`lm2 inspect` and lm-eval. See docs/ecosystem.md.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "convert",
        help="add LM2 or RMT memory to a pretrained Llama checkpoint (identity-preserving for lm2)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--from-llama", type=Path, required=True, metavar="DIR", help="Llama checkpoint folder")
    p.add_argument("--arch", choices=("lm2", "rmt", "vanilla"), default="lm2", help="default lm2")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write")
    p.add_argument(
        "--segment-length",
        type=int,
        help="tokens per segment (default: 2048, at most the Llama's max_position_embeddings); lm2's logits "
        "equal the Llama's for inputs up to this length",
    )
    p.add_argument("--memory-layers", help="lm2: comma-separated blocks with memory (default: all)")
    p.add_argument("--memory-heads", type=int, help="lm2: memory heads (default: the attention heads)")
    p.add_argument("--num-memory-tokens", type=int, default=16, help="rmt: memory tokens (default 16)")
    p.add_argument("--dtype", default="auto", help="auto (as saved), float32, bfloat16, float16 or float64")
    p.add_argument(
        "--check-tokens",
        type=int,
        default=64,
        help="compare logits with the Llama on 2 x N random tokens, N <= one segment (0: skip; default 64)",
    )
    p.set_defaults(func=run)


def memory_options(args: argparse.Namespace) -> dict:
    """The memory fields for `convert_llama` from the options; `ValueError` names a wrong one."""
    options: dict = {}
    if args.arch == "lm2":
        if args.memory_layers:
            try:
                options["memory_layers"] = [int(i) for i in args.memory_layers.split(",")]
            except ValueError:
                raise ValueError(f"--memory-layers={args.memory_layers!r} must be block indices like 0,1,2") from None
        if args.memory_heads is not None:
            options["memory_heads"] = args.memory_heads
    elif args.arch == "rmt":
        options["num_memory_tokens"] = args.num_memory_tokens
    if args.check_tokens < 0:
        raise ValueError(f"--check-tokens={args.check_tokens} must be >= 0 (0 skips the check)")
    return options


def run(args: argparse.Namespace) -> int:
    from transformers.utils import logging as hf_logging

    from lm2.integrations.convert import (
        compare_with_llama,
        convert_llama,
        is_memory_parameter,
        save_converted,
    )

    verbosity = hf_logging.get_verbosity()
    try:
        options = memory_options(args)
        hf_logging.set_verbosity_error()  # our summary below replaces transformers' load report
        model = convert_llama(args.from_llama, args.arch, args.segment_length, args.dtype, **options)
    except (ValueError, FileNotFoundError) as err:
        logger.error("lm2 convert: %s", err)
        return 2
    finally:
        hf_logging.set_verbosity(verbosity)
    cfg = model.config
    total = sum(p.numel() for p in model.parameters())
    added = sum(p.numel() for name, p in model.named_parameters() if is_memory_parameter(name))
    where = {"lm2": f"{len(cfg.memory_layer_ids)} blocks", "rmt": f"{cfg.num_memory_tokens} tokens"}
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
    print(f"wrote {args.out}: {', '.join(files)}")
    return 0
