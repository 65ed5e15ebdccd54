"""BABILong samples: bAbI facts hidden in background text, the on-disk layout, the Hub release, and
the token layout used for training and evaluation.

Recipe (BABILong, Kuratov et al. 2024, `babilong_utils.NoiseInjectionDataset`): take one bAbI question
with the facts before it; draw background sentences until facts + background reach the target length
in tokens of the given tokenizer (the last background sentence is cut, at a word boundary, to fit); put
each fact before a background sentence drawn uniformly with replacement, sorted so the facts keep their
order; join with single spaces. The question stays outside the input. Length `0k` means facts only.

Lengths: `1k` = 1,000 tokens and `1M` = 1,000,000 as in BABILong's `create_tasks.py` (which also
subtracts 300 tokens for its prompt; we use no prompt, so the input gets the whole length).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lm2.data.babi import BabiSample, task_id
from lm2.data.haystack import Haystack
from lm2.data.tokenizer import count_tokens
from lm2.files import write_atomic

LENGTHS = ("0k", "1k", "2k", "4k", "8k", "16k", "32k", "64k", "128k", "256k", "512k", "1M")
SAMPLE_KEYS = ("input", "question", "target")
_LENGTH = re.compile(r"^(\d+)([kKmM]?)$")


def parse_length(length: str | int) -> int:
    """Tokens for a length name: `0k`..`128k`, `1M`, `3k`, `1500` or an int."""
    if isinstance(length, int) and length >= 0:
        return length
    match = _LENGTH.match(str(length).strip())
    if not match:
        raise ValueError(
            f"unknown length {length!r}; allowed: {', '.join(LENGTHS)}, or a number of tokens such as 1500 or 3k"
        )
    return int(match.group(1)) * {"": 1, "k": 1000, "m": 1_000_000}[match.group(2).lower()]


def length_name(tokens: int) -> str:
    """The file name stem for a length: 0 -> `0k`, 4000 -> `4k`, 1_000_000 -> `1M`, 1500 -> `1500`."""
    if tokens == 0:
        return "0k"
    if tokens % 1_000_000 == 0:
        return f"{tokens // 1_000_000}M"
    if tokens % 1000 == 0:
        return f"{tokens // 1000}k"
    return str(tokens)


def parse_lengths(spec: str | Sequence[str | int]) -> list[int]:
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    lengths = [parse_length(item) for item in items if str(item).strip()]
    if not lengths:
        raise ValueError(f"no length given; allowed: {', '.join(LENGTHS)} or a number of tokens")
    return lengths


@dataclass(frozen=True)
class BabilongSample:
    """One sample. Files hold only `input`, `question`, `target`; the rest is in-memory metadata."""

    input: str
    question: str
    target: str
    task: str = ""
    length: int = 0  # the target length in tokens
    num_tokens: int = 0  # tokens of `input` under the tokenizer that built it
    facts: tuple[str, ...] = ()
    supporting: tuple[int, ...] = ()  # indices into `facts`
    fact_positions: tuple[int, ...] = ()  # per fact, the background sentence it precedes

    def to_dict(self) -> dict[str, str]:
        return {"input": self.input, "question": self.question, "target": self.target}


def _cut_to_budget(sentence: str, budget: int, tokenizer) -> tuple[str, int]:
    """The longest word prefix of `sentence` with at most `budget` tokens (counted as " " + prefix)."""
    words = sentence.split(" ")
    taken, total = 0, 0
    for n in count_tokens(tokenizer, [" " + w for w in words]):
        if total + n > budget:
            break
        taken, total = taken + 1, total + n
    return " ".join(words[:taken]), total


def build_sample(
    sample: BabiSample,
    length: int,
    tokenizer,
    haystack: Haystack | None,
    rng: random.Random,
    count: Callable[[Sequence[str]], list[int]] | None = None,
) -> BabilongSample:
    """Hide `sample`'s facts in `length` tokens of background text (see module docstring). `count` gives
    token counts of texts (default: the tokenizer's); a memoising one makes repeated builds fast."""
    count = count or (lambda texts: count_tokens(tokenizer, texts))
    facts = list(sample.facts)
    fact_counts = count([" " + f for f in facts])
    budget = length - sum(fact_counts)
    background: list[tuple[str, int]] = []
    if length > 0:
        if budget < 0:
            raise ValueError(f"the facts of this sample take {sum(fact_counts)} tokens, more than length {length}")
        if haystack is None:
            raise ValueError("a haystack is needed for lengths above 0k")
        if budget > 0:
            background = haystack.sample(rng, budget, count)
            last, last_count = background.pop()
            cut, cut_count = _cut_to_budget(last, budget - sum(n for _, n in background), tokenizer)
            if cut:
                background.append((cut, cut_count))
    positions = sorted(rng.choices(range(len(background) + 1), k=len(facts)))
    pieces: list[str] = []
    fact_iter = iter(zip(positions, facts, strict=True))
    pending = next(fact_iter, None)
    for index in range(len(background) + 1):
        while pending is not None and pending[0] == index:
            pieces.append(pending[1])
            pending = next(fact_iter, None)
        if index < len(background):
            pieces.append(background[index][0])
    text = " ".join(pieces)
    # Counts are additive over " "-joined pieces, except that the first piece has no leading space.
    spaced = sum(fact_counts) + sum(n for _, n in background)
    first = count_tokens(tokenizer, [pieces[0]])[0] - count_tokens(tokenizer, [" " + pieces[0]])[0] if pieces else 0
    return BabilongSample(
        input=text,
        question=sample.question,
        target=sample.answer,
        task=sample.task,
        length=length,
        num_tokens=spaced + first,
        facts=tuple(facts),
        supporting=sample.supporting,
        fact_positions=tuple(positions),
    )


def iter_babilong(
    samples: Sequence[BabiSample],
    length: int,
    tokenizer,
    haystack: Haystack | None,
    num_samples: int,
    seed: int = 0,
) -> Iterator[BabilongSample]:
    """Yield `num_samples` BABILong samples of one task at one length. The questions are the first ones
    of a seeded shuffle of `samples` whose facts fit in `length`, so every length of a task uses the
    same questions as far as they fit; the background draws are seeded by (seed, task, length). Raises
    ValueError when too few samples fit."""
    if not samples:
        raise ValueError("no bAbI samples to build from")
    task = samples[0].task
    order = list(range(len(samples)))
    random.Random(f"lm2-babilong-{task}-{seed}").shuffle(order)
    rng = random.Random(f"lm2-babilong-{task}-{length}-{seed}")
    built = 0
    for index in order:
        if built == num_samples:
            return
        sample = samples[index]
        if length > 0 and sum(count_tokens(tokenizer, [" " + f for f in sample.facts])) > length:
            continue
        built += 1
        yield build_sample(sample, length, tokenizer, haystack, rng)
    if built < num_samples:
        raise ValueError(
            f"{task}: only {built} of the {len(samples)} bAbI samples fit in {length} tokens, "
            f"{num_samples} were asked for"
        )


def build_babilong(
    samples: Sequence[BabiSample],
    length: int,
    tokenizer,
    haystack: Haystack | None,
    num_samples: int,
    seed: int = 0,
) -> list[BabilongSample]:
    """The list of `iter_babilong`."""
    return list(iter_babilong(samples, length, tokenizer, haystack, num_samples, seed))


def save_babilong(samples: Sequence[BabilongSample | Mapping], root: str | Path, task: str, length: str | int) -> Path:
    """Write `root/qaN/<length>.json` (atomically): a JSON list of {"input", "question", "target"}."""
    path = Path(root) / task_id(task) / f"{length_name(parse_length(length))}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [s.to_dict() if isinstance(s, BabilongSample) else {k: s[k] for k in SAMPLE_KEYS} for s in samples]
    write_atomic(path, json.dumps(records, ensure_ascii=False) + "\n")
    return path


def _check_records(records: object, where: str) -> list[dict[str, str]]:
    if not isinstance(records, list):
        raise ValueError(f"{where}: expected a JSON list of samples")
    for i, record in enumerate(records):
        if not isinstance(record, Mapping) or not all(isinstance(record.get(k), str) for k in SAMPLE_KEYS):
            raise ValueError(f"{where}: sample {i} needs string fields {', '.join(SAMPLE_KEYS)}")
    return [{k: record[k] for k in SAMPLE_KEYS} for record in records]


def load_babilong(root: str | Path, task: str, length: str | int) -> list[dict[str, str]]:
    """Read `root/qaN/<length>.json` (ours or the official generator's)."""
    path = Path(root) / task_id(task) / f"{length_name(parse_length(length))}.json"
    if not path.is_file():
        found = sorted(p.stem for p in path.parent.glob("*.json")) if path.parent.is_dir() else []
        raise FileNotFoundError(f"{path} not found; lengths present for {task_id(task)}: {found or 'none'}")
    return _check_records(json.loads(path.read_text(encoding="utf-8")), str(path))


def list_babilong(root: str | Path) -> dict[str, list[str]]:
    """The tasks and lengths present under `root`, as {task: [length names]}."""
    root = Path(root)
    found = {}
    for folder in sorted(root.glob("qa*")):
        if folder.is_dir() and folder.name[2:].isdigit():
            found[folder.name] = sorted((p.stem for p in folder.glob("*.json")), key=parse_length)
    return dict(sorted(found.items(), key=lambda item: int(item[0][2:])))


def load_babilong_hub(
    task: str, length: str | int, repo: str = "RMT-team/babilong", path: str | Path | None = None
) -> list[dict[str, str]]:
    """The public BABILong release through `datasets` (the `lm2[hub]` extra): configuration = length
    name, split = task. With `path`, reads a local copy saved by `DatasetDict.save_to_disk` at
    `path/<length>` instead of downloading."""
    try:
        import datasets
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("loading the BABILong release needs `datasets`: pip install 'lm2[hub]'") from err
    task, name = task_id(task), length_name(parse_length(length))
    if path is not None:
        folder = Path(path) / name
        if not folder.is_dir():
            raise FileNotFoundError(f"no saved BABILong length {name!r} at {folder}")
        splits = datasets.load_from_disk(str(folder))
        if task not in splits:
            raise ValueError(f"{folder} has no task {task!r}; it has {', '.join(splits)}")
        rows = splits[task]
    else:
        rows = datasets.load_dataset(repo, name, split=task)
    return _check_records(list(rows), f"{repo if path is None else path}:{name}/{task}")


def encode_sample(tokenizer, sample: BabilongSample | Mapping, with_answer: bool = True) -> dict:
    """Model tokens for one sample: `<s> {input} {question} <ans> {target} </s>`; without the answer,
    the ids end with `<ans>` (where generation starts). `answer_start` is the index of the first answer
    token (= len(input_ids) when `with_answer` is False), `question_start` that of the first question token
    (so the input's tokens are `input_ids[1:question_start]`). Input, question and target are each encoded
    with a leading space, so a word has the same token wherever it stands (" Mary", " office")."""
    record = sample.to_dict() if isinstance(sample, BabilongSample) else sample
    answer_id = getattr(tokenizer, "answer_token_id", None)
    if answer_id is None or tokenizer.bos_token_id is None or tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer needs bos, eos and answer (<ans>) tokens; use lm2.data.tokenizer")
    ids = [tokenizer.bos_token_id]
    ids += tokenizer.encode(" " + record["input"], add_special_tokens=False)
    question_start = len(ids)
    ids += tokenizer.encode(" " + record["question"], add_special_tokens=False)
    ids.append(answer_id)
    answer_start = len(ids)
    if with_answer:
        ids += tokenizer.encode(" " + record["target"], add_special_tokens=False)
        ids.append(tokenizer.eos_token_id)
    return {"input_ids": ids, "answer_start": answer_start, "question_start": question_start}
