"""`lm2 data`: build BABILong sets, train the tokenizer, tokenize corpora into shards (`data_tokenize.py`),
download, generate and check bAbI.

The library (`lm2.data`) is imported inside the handlers so that `lm2 --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from lm2.cli.common import add_command, add_command_group, check_at_least_one
from lm2.cli.data_tokenize import add_tokenize
from lm2.cli.outputs import add_overwrite_option, claim_folder, run_options, write_record

logger = logging.getLogger(__name__)
MANIFEST = "lm2_manifest.json"  # what `lm2 data babilong` built into a folder


def register(subparsers: argparse._SubParsersAction) -> None:
    description = "Data commands; each has its own --help. See docs/data.md."
    sub = add_command_group(subparsers, "data", description, metavar="DATA_COMMAND")
    _add_babilong(sub)
    _add_tokenizer(sub)
    add_tokenize(sub)
    _add_babi_download(sub)
    _add_babi_generate(sub)
    _add_babi_stats(sub)
    _add_list(sub)


# -- shared options ---------------------------------------------------------------------------------
def _add_babi_source(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--babi",
        type=Path,
        metavar="DIR",
        help="folder of bAbI v1.2 files (default: <data dir>/babi, from LM2_DATA_DIR or ../shared/data)",
    )
    group.add_argument(
        "--download",
        action="store_true",
        help="use the official archive, downloaded once into the cache and checksum-verified",
    )
    group.add_argument("--generate", action="store_true", help="use the offline bAbI generator (all 20 tasks)")


def _babi_source(args: argparse.Namespace):
    if args.generate:
        return "generate"
    if args.download:
        return "download"
    return args.babi


def _add_haystack(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--haystack",
        type=Path,
        metavar="DIR",
        help="folder of .txt books for the background text (default: offline generated prose)",
    )
    group.add_argument(
        "--pg19",
        nargs="?",
        const="hub",
        metavar="PATH",
        help="PG19 through `datasets`: a save_to_disk copy at PATH, or the Hub when no PATH",
    )


def _haystack(args: argparse.Namespace):
    from lm2.data import load_haystack

    if args.haystack is not None:  # a folder, even one named "prose"
        return load_haystack(args.haystack.resolve())
    pg19 = None if args.pg19 is None else "pg19" if args.pg19 == "hub" else f"pg19:{args.pg19}"
    return load_haystack(pg19 or "prose", seed=args.seed)


# -- lm2 data babilong ------------------------------------------------------------------------------
def _add_babilong(sub: argparse._SubParsersAction) -> None:
    about = (
        "Hide bAbI facts in background text up to each target length (tokens of the tokenizer; "
        "1k = 1000) and write the official layout DIR/qaN/<length>.json plus DIR/lm2_manifest.json. "
        "A DIR built with other settings (seed, samples, split, sources, tokenizer) is refused unless "
        "--overwrite; the same settings may add tasks and lengths to it."
    )
    p = add_command(sub, "babilong", run_babilong, "build BABILong samples into DIR/qaN/<length>.json", about)
    p.add_argument("--tasks", default="qa1,qa2,qa3,qa4,qa5", help="comma-separated tasks, or 'all'")
    p.add_argument("--lengths", default="0k,1k,2k,4k", help="comma-separated lengths: 0k..128k, 1M, or tokens")
    p.add_argument("--samples", type=int, default=100, help="samples per task and length")
    p.add_argument("--seed", type=int, default=0, help="seed of the question choice and the background draws")
    p.add_argument("--split", choices=("train", "test"), default="test", help="bAbI split the questions come from")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--tokenizer", type=Path, metavar="DIR", help="tokenizer folder (default: the default tokenizer)")
    add_overwrite_option(p)
    _add_babi_source(p)
    _add_haystack(p)


def run_babilong(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lm2.data import (
        default_tokenizer,
        iter_babilong,
        length_name,
        load_tokenizer,
        parse_lengths,
        parse_tasks,
        question_pool,
        save_babilong,
    )

    tasks, lengths = parse_tasks(args.tasks), parse_lengths(args.lengths)
    check_at_least_one(args, "samples")
    tokenizer = default_tokenizer() if args.tokenizer is None else load_tokenizer(args.tokenizer)
    haystack = _haystack(args)
    source = _babi_source(args)
    _claim_babilong(args.out, _manifest(args, tasks, lengths, tokenizer, haystack.name, source), args.overwrite)
    start = time.perf_counter()
    with tqdm(total=len(tasks) * len(lengths) * args.samples, unit="sample", desc="babilong") as bar:
        for task in tasks:
            pool = question_pool(task, args.split, source, args.seed, args.samples)
            for length in lengths:
                bar.set_postfix_str(f"{task} {length_name(length)}")
                built = []
                for sample in iter_babilong(pool, length, tokenizer, haystack, args.samples, args.seed):
                    built.append(sample)
                    bar.update()
                save_babilong(built, args.out, task, length)
    logger.info("wrote %d files to %s in %.1fs", len(tasks) * len(lengths), args.out, time.perf_counter() - start)
    return 0


def _manifest(args, tasks, lengths, tokenizer, haystack_name: str, source) -> dict:
    from lm2.data import length_name
    from lm2.data.tokenizer import tokenizer_fingerprint

    manifest = {
        "tasks": tasks,
        "lengths": [length_name(n) for n in lengths],
        "samples": args.samples,
        "seed": args.seed,
        "split": args.split,
        "babi": "<data dir>/babi" if source is None else str(source),
        "haystack": haystack_name,
        "tokenizer": {
            "path": str(args.tokenizer or "default"),
            "vocab_size": len(tokenizer),
            "fingerprint": tokenizer_fingerprint(tokenizer),
        },
        "length_unit": "tokens of this tokenizer; 1k = 1000",
    }
    return manifest


def _claim_babilong(out: Path, manifest: dict, overwrite: bool) -> None:
    """Refuse an `out` built with other settings; else write the manifest, its task and length lists grown
    by this run's, before any sample (each sample file is written atomically)."""
    from lm2.data import parse_length
    from lm2.files import write_atomic

    found = claim_folder(out, manifest, overwrite, record=MANIFEST, ignore=("tasks", "lengths"), write=False)
    if found:
        manifest["tasks"] = sorted({*found["tasks"], *manifest["tasks"]}, key=lambda t: int(t[2:]))
        manifest["lengths"] = sorted({*found["lengths"], *manifest["lengths"]}, key=parse_length)
    write_atomic(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")


# -- lm2 data tokenizer -----------------------------------------------------------------------------
def _add_tokenizer(sub: argparse._SubParsersAction) -> None:
    about = (
        "Train a byte-level BPE (special tokens <pad>=0 <s>=1 </s>=2 <ans>=3) on bAbI stories "
        "plus background text, and save it with save_pretrained (tokenizer.json + config)."
    )
    p = add_command(sub, "tokenizer", run_tokenizer, "train the byte-level BPE tokenizer", about)
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    add_overwrite_option(p)
    p.add_argument("--vocab-size", type=int, default=2048, help="vocabulary size")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--babi", type=Path, metavar="DIR", help="bAbI folder: use the train files of all tasks")
    group.add_argument("--generate", action="store_true", help="use generated bAbI stories (the default)")
    p.add_argument(
        "--haystack",
        type=Path,
        metavar="DIR",
        help="folder of .txt books for the prose part (default: offline generated prose)",
    )
    p.add_argument("--text", type=Path, nargs="*", default=[], metavar="FILE", help="extra plain-text files")


def run_tokenizer(args: argparse.Namespace) -> int:
    from lm2.data import TASKS, find_babi_file, folder_haystack, prose_sentences, train_tokenizer
    from lm2.data.tokenizer import generated_story_texts, paragraphs, story_texts, tokenizer_fingerprint
    from lm2.files import atomic_folder

    identity = run_options(args)
    claim_folder(args.out, identity, args.overwrite, write=False)  # the folder is replaced whole below
    if args.babi is None:
        texts = generated_story_texts()
    else:
        texts = []
        for task in TASKS:
            try:
                path = find_babi_file(args.babi, task, "train")
            except FileNotFoundError as err:
                logger.warning("skipping %s: %s", task, str(err).splitlines()[0])
                continue
            texts.extend(story_texts(path.read_text(encoding="utf-8").splitlines()))
    if args.haystack is None:
        texts.extend(paragraphs(prose_sentences(20_000, seed=0)))
    else:
        haystack = folder_haystack(args.haystack)
        for index in range(haystack.num_documents):
            texts.extend(paragraphs(haystack.document(index)))
    for path in args.text:
        texts.extend(paragraphs(path.read_text(encoding="utf-8-sig").splitlines()))
    start = time.perf_counter()
    tokenizer = train_tokenizer(texts, vocab_size=args.vocab_size)
    with atomic_folder(args.out) as tmp:
        tokenizer.save_pretrained(str(tmp))
    write_record(args.out, identity)
    sample = texts[:: max(1, len(texts) // 2000)]
    tokens = sum(len(ids) for ids in tokenizer(sample, add_special_tokens=False)["input_ids"])
    logger.info(
        "trained %d tokens on %d texts (%.1f MB) in %.1fs; %.2f characters per token; fingerprint %s; saved to %s",
        len(tokenizer),
        len(texts),
        sum(map(len, texts)) / 1e6,
        time.perf_counter() - start,
        sum(map(len, sample)) / max(tokens, 1),
        tokenizer_fingerprint(tokenizer),
        args.out,
    )
    return 0


# -- lm2 data babi-download / babi-generate / babi-stats / list ----------------------------------------
def _add_babi_download(sub: argparse._SubParsersAction) -> None:
    about = (
        "Download the bAbI archive into the cache (once), verify its SHA-256 and unpack it. "
        "Without --sha256 the first download is trusted and its hash recorded; later runs check it."
    )
    p = add_command(
        sub, "babi-download", run_babi_download, "download and verify the official bAbI v1.2 archive", about
    )
    p.add_argument("--url", help="archive URL, http(s) or file:// (default: the official v1.2 archive)")
    p.add_argument("--sha256", default=None, help="expected SHA-256 of the archive")
    p.add_argument("--cache", type=Path, default=None, metavar="DIR", help="cache folder (default: <cache>/babi)")


def run_babi_download(args: argparse.Namespace) -> int:
    from lm2.data import BABI_URL, download_babi

    folder = download_babi(cache=args.cache, url=args.url or BABI_URL, sha256=args.sha256)
    logger.info("bAbI files in %s (sha256 %s)", folder, (folder / ".sha256").read_text().strip())
    return 0


def _add_babi_generate(sub: argparse._SubParsersAction) -> None:
    about = "Write qaN_<name>_{train,test}.txt files in the bAbI v1.2 format from the offline generator."
    p = add_command(sub, "babi-generate", run_babi_generate, "write generated bAbI files (offline generator)", about)
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    add_overwrite_option(p)
    p.add_argument("--tasks", default="all", help="comma-separated tasks, or 'all'")
    p.add_argument("--stories", type=int, default=2000, help="stories per file (most tasks ask 5 questions per story)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (test files use a derived seed)")


def run_babi_generate(args: argparse.Namespace) -> int:
    from lm2.data import parse_tasks, write_babi_dir

    tasks = parse_tasks(args.tasks)
    claim_folder(args.out, run_options(args), args.overwrite)
    paths = write_babi_dir(args.out, tasks, args.stories, args.seed)
    logger.info("wrote %d files to %s", len(paths), args.out)
    return 0


def _add_babi_stats(sub: argparse._SubParsersAction) -> None:
    about = (
        "Statistics of generated and real bAbI (facts per question, supporting facts, "
        "supporting-fact distance, answer distribution, vocabulary, labels) and whether they agree."
    )
    p = add_command(sub, "babi-stats", run_babi_stats, "compare generated bAbI with the real files", about)
    p.add_argument("--babi", type=Path, default=None, metavar="DIR", help="real bAbI folder (default: <data dir>/babi)")
    p.add_argument("--tasks", default="all", help="comma-separated tasks, or 'all'")
    p.add_argument("--split", choices=("train", "test"), default="train", help="real split to compare with")
    p.add_argument("--samples", type=int, default=2000, help="generated samples per task")
    p.add_argument("--seed", type=int, default=0, help="generator seed")


def run_babi_stats(args: argparse.Namespace) -> int:
    from lm2.data import babi_stats, compare_stats, generate_babi, load_babi, parse_tasks
    from lm2.data.babi.stats import answer_tv

    failures = 0
    print(
        f"{'task':5} {'facts/q gen|real':>17} {'supports gen|real':>18} "
        f"{'distance gen|real':>18} {'answer TV':>9}  agree"
    )
    for task in parse_tasks(args.tasks):
        gen = babi_stats(generate_babi(task, args.samples, seed=args.seed))
        real = babi_stats(load_babi(task, args.split, args.babi))
        problems = compare_stats(gen, real)
        failures += bool(problems)
        print(
            f"{task:5} {gen.facts_mean:8.2f}|{real.facts_mean:<8.2f} "
            f"{gen.supports_mean:8.2f}|{real.supports_mean:<9.2f}"
            f" {gen.distance_mean:8.2f}|{real.distance_mean:<9.2f} {answer_tv(gen, real):9.3f}  "
            f"{'yes' if not problems else 'NO: ' + '; '.join(problems)}"
        )
    return 1 if failures else 0


def _add_list(sub: argparse._SubParsersAction) -> None:
    about = "List DIR/qaN/<length>.json files (ours or the official release's) with sample counts."
    p = add_command(sub, "list", run_list, "list the tasks, lengths and sample counts of a BABILong folder", about)
    p.add_argument("dir", type=Path, help="BABILong folder")


def run_list(args: argparse.Namespace) -> int:
    from lm2.data import list_babilong, load_babilong

    found = list_babilong(args.dir)
    if not found:
        raise FileNotFoundError(f"no qaN/<length>.json files under {args.dir}")
    for task, lengths in found.items():
        counts = ", ".join(f"{length}: {len(load_babilong(args.dir, task, length))}" for length in lengths)
        print(f"{task}  {counts}")
    return 0
