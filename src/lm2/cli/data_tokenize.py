"""`lm2 data tokenize`: a corpus into pre-tokenized shards that `lm2 train` reads by memory map
(`data.shards`). Registered by `lm2.cli.data`; the library is `lm2.data.pretokenize`."""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

from lm2.cli.common import UsageError, add_command, check_at_least_one, resumable
from lm2.cli.outputs import add_overwrite_option, claim_folder

logger = logging.getLogger(__name__)

ABOUT = """Tokenize a corpus into shards for `lm2 train` (data.shards): token files read by memory map (uint16
when the vocabulary fits, else uint32), an index of document starts, and manifest.json (source, tokenizer
fingerprint, token counts). Deterministic: the bytes depend on the source, tokenizer, --shard-tokens and
--max-tokens only, never on --workers. Interrupted (Ctrl-C, a kill), the same command continues after the
last finished shard.

SOURCE: a Hub dataset (HuggingFaceTB/smollm-corpus with --config cosmopedia-v2; --streaming reads without
downloading it all), local .jsonl/.json/.parquet/.arrow/.csv files (a file or a quoted glob), a folder
written by save_to_disk, or a folder of .txt files (one document each). Or --mixture FILE: every source
of a mixture file that names one (`tokenize:`), into its `shards` folder. See docs/training.md."""


def add_tokenize(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "tokenize", run_tokenize, "tokenize a corpus into shards for lm2 train", ABOUT)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("source", nargs="?", metavar="SOURCE", help="the corpus (see above)")
    what.add_argument("--mixture", type=Path, metavar="FILE", help="tokenize every source of a mixture file")
    p.add_argument("--out", type=Path, metavar="DIR", help="shard folder (with SOURCE)")
    p.add_argument("--config", help="the Hub dataset's configuration, e.g. cosmopedia-v2")
    p.add_argument("--split", default="train", help="split to read")
    p.add_argument("--text-field", default="text", help="column holding the text")
    p.add_argument("--streaming", action="store_true", help="stream the dataset instead of loading it whole")
    p.add_argument("--tokenizer", type=Path, metavar="DIR", help="tokenizer folder (default: the offline default)")
    p.add_argument("--vocab-size", type=int, default=2048, help="the default tokenizer's size (without --tokenizer)")
    p.add_argument(
        "--workers", type=int, help="tokenizer processes, one core each; 0: in this process (default: all cores)"
    )
    p.add_argument("--shard-tokens", type=int, default=100_000_000, help="tokens per shard (cut at a document end)")
    p.add_argument("--batch-documents", type=int, default=512, help="documents per batch sent to a worker")
    p.add_argument("--max-tokens", type=int, default=0, help="stop after about this many tokens (0: the whole corpus)")
    add_overwrite_option(p)


@resumable  # Ctrl-C: one line, exit 130; the same command continues after the last finished shard
def run_tokenize(args: argparse.Namespace) -> int:
    from lm2.data import default_tokenizer, load_tokenizer
    from lm2.data.corpus import CorpusSource
    from lm2.data.mixture import load_mixture

    check_at_least_one(args, "shard_tokens", "batch_documents")
    if args.workers is not None and args.workers < 0:
        raise UsageError(f"--workers={args.workers} must be >= 0 (0: tokenize in this process)")
    if args.source is not None and args.out is None:
        raise UsageError("SOURCE needs --out DIR, the shard folder to write")
    tokenizer = load_tokenizer(args.tokenizer) if args.tokenizer else default_tokenizer(args.vocab_size)
    if args.mixture is None:
        spec = CorpusSource(args.source, args.config, args.split, args.text_field, args.streaming)
        jobs = [(spec, args.out)]
    else:
        args.out = f"the shard folders of {args.mixture}"  # what `resumable` names on Ctrl-C
        jobs = [(s.corpus, Path(s.shards)) for s in load_mixture(args.mixture) if s.corpus is not None]
        if not jobs:
            raise UsageError(f"--mixture {args.mixture} names no source to tokenize (no `tokenize:` entries)")
    for spec, out in jobs:
        _tokenize_one(args, spec, out, tokenizer)
    return 0


def _tokenize_one(args: argparse.Namespace, spec, out: Path, tokenizer) -> None:
    from tqdm import tqdm

    from lm2.data.pretokenize import shard_settings, tokenize_corpus
    from lm2.data.shards import MANIFEST, PROGRESS_KEYS

    settings = shard_settings(spec, tokenizer, args.shard_tokens, args.max_tokens)
    found = claim_folder(out, settings, args.overwrite, record=MANIFEST, ignore=PROGRESS_KEYS, write=False)
    workers = (os.cpu_count() or 1) if args.workers is None else args.workers
    start, before = time.perf_counter(), (found or {}).get("tokens", 0)
    bar = tqdm(desc=out.name, unit="tok", unit_scale=True, initial=before, dynamic_ncols=True)
    options = {name: getattr(args, name) for name in ("shard_tokens", "batch_documents", "max_tokens")}
    try:
        manifest = tokenize_corpus(spec, out, tokenizer, workers, **options, on_progress=lambda n, _: bar.update(n))
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    logger.info(
        "%s: %d tokens of %d documents in %d shards (%s); %d new tokens in %.1fs, %.0f tokens/s with %d workers",
        out, manifest["tokens"], manifest["documents"], len(manifest["shards"]), manifest["dtype"],
        manifest["tokens"] - before, seconds, (manifest["tokens"] - before) / max(seconds, 1e-9), workers,
    )  # fmt: skip
