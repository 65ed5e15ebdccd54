"""`lm2 perplexity`: a saved model's perplexity on held-out text at several context lengths.

Each text (a .txt file, or every .txt file of a folder: one document per file) is encoded whole, cut into
spans of the longest context and each span into windows of every context length; the model reads each
window from a fresh state. Every length scores the same tokens, so the numbers differ only by how much
preceding text the model was given (`lm2.evaluation.perplexity`). OUT gets `perplexity.json` (per context:
loss, perplexity, tokens, the loss per block of positions, seconds) after each length; the same command
continues where it stopped, and an OUT holding another model's or text's results is refused.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lm2.cli.common import UsageError, add_command, add_device_options, check_at_least_one, resumable


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "perplexity", run, description=__doc__)
    p.add_argument("model", type=Path, metavar="MODEL_DIR", help="model folder (save_pretrained + tokenizer)")
    p.add_argument("--text", type=Path, nargs="+", required=True, metavar="PATH",
                   help=".txt files or folders of them (held out of the model's training)")  # fmt: skip
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (resumed if it exists)")
    p.add_argument("--contexts", default="1k,4k,16k", help="context lengths in tokens; each divides the longest")
    p.add_argument("--batch-tokens", type=int, default=32_768, help="windows read at once × their length")
    p.add_argument("--chunk", type=int, default=2048, help="tokens per model call (the state carries over)")
    add_device_options(p)


def read_texts(paths: list[Path]) -> dict[str, str]:
    """name → text of every .txt file named or found (sorted) in the folders named; names are file stems."""
    files = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.rglob("*.txt"))
            if not found:
                raise UsageError(f"--text {path}: the folder holds no .txt file")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"--text {path}: no such file or folder")
    texts = {}
    for file in files:
        if file.stem in texts:
            raise UsageError(f"--text: two files are named {file.stem!r}; documents are recorded by name")
        texts[file.stem] = file.read_text(encoding="utf-8-sig", errors="replace")
    return texts


@resumable
def run(args: argparse.Namespace) -> int:
    import torch

    from lm2.data.babilong import length_name, parse_lengths
    from lm2.evaluation.perplexity import check_contexts, perplexity_table, run_perplexity
    from lm2.integrations.pretrained import load_pretrained

    check_at_least_one(args, "batch_tokens", "chunk", "threads")
    try:
        contexts = check_contexts(parse_lengths(args.contexts))
    except ValueError as err:
        raise UsageError(f"--contexts={args.contexts!r}: {err}") from None
    if not args.model.is_dir():
        raise FileNotFoundError(f"model folder not found: {args.model}")
    texts = read_texts(args.text)
    if args.threads:
        torch.set_num_threads(args.threads)
    model, tokenizer = load_pretrained(args.model, args.device, args.dtype)

    def shown(context: int, record: dict) -> None:
        print(f"{length_name(context)} context: perplexity {record['perplexity']:.3f} over {record['tokens']:,} "
              f"tokens ({record['windows']} windows, {record['seconds']:.0f} s)", flush=True)  # fmt: skip

    results = run_perplexity(model, tokenizer, texts, contexts, args.out, args.batch_tokens, args.chunk,
                             model_path=args.model, on_context=shown)  # fmt: skip
    print(perplexity_table({args.model.name: results}))
    print(f"wrote {args.out / 'perplexity.json'}")
    return 0
