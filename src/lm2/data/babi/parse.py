"""The bAbI v1.2 tasks: task names, the file parser and the local-folder source.

A bAbI file is a sequence of stories. Every line is `ID text`; IDs restart at 1 for each story. A
question line is `ID question<TAB>answer<TAB>supporting IDs`. Following BABILong, every question becomes
one sample whose facts are all the non-question lines of its story that precede it (earlier questions
are dropped, their facts kept), with the answer and the supporting lines as indices into those facts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# The 20 tasks in release order, with the name part of their file names (`qa1_single-supporting-fact_*.txt`).
TASKS: dict[str, str] = {
    "qa1": "single-supporting-fact",
    "qa2": "two-supporting-facts",
    "qa3": "three-supporting-facts",
    "qa4": "two-arg-relations",
    "qa5": "three-arg-relations",
    "qa6": "yes-no-questions",
    "qa7": "counting",
    "qa8": "lists-sets",
    "qa9": "simple-negation",
    "qa10": "indefinite-knowledge",
    "qa11": "basic-coreference",
    "qa12": "conjunction",
    "qa13": "compound-coreference",
    "qa14": "time-reasoning",
    "qa15": "basic-deduction",
    "qa16": "basic-induction",
    "qa17": "positional-reasoning",
    "qa18": "size-reasoning",
    "qa19": "path-finding",
    "qa20": "agents-motivations",
}
SPLITS = ("train", "test")

# Where a folder may hold the files, in the order they are tried: the folder itself, the 10k-question
# set, the 1k-question set (used only when a 10k file is absent, with a warning).
_SUBDIRS_10K = ("", "en-10k", "tasks_1-20_v1-2/en-10k")
_SUBDIRS_1K = ("en", "tasks_1-20_v1-2/en")


@dataclass(frozen=True)
class BabiSample:
    """One bAbI question with the facts of its story that precede it."""

    facts: tuple[str, ...]
    question: str
    answer: str
    supporting: tuple[int, ...]  # indices into `facts`, in the order the file lists them
    task: str = ""
    story: int = 0  # index of the story in its file (or in the generated set)


def task_id(name: str) -> str:
    """Normalise a task name (`qa1`, `QA1`, `1`, `qa1_single-supporting-fact`) to `qaN`."""
    key = name.strip().lower().split("_")[0]
    if key.isdigit():
        key = f"qa{key}"
    if key not in TASKS:
        raise ValueError(f"unknown bAbI task {name!r}; allowed: {', '.join(TASKS)}")
    return key


def parse_tasks(spec: str | Iterable[str]) -> list[str]:
    """Task names from a comma-separated string or an iterable; `all` means qa1..qa20."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    items = [item.strip() for item in items if item.strip()]
    if items == ["all"]:
        return list(TASKS)
    if not items:
        raise ValueError(f"no task given; allowed: {', '.join(TASKS)} or 'all'")
    return [task_id(item) for item in items]


def task_file_name(task: str, split: str) -> str:
    """`qa1_single-supporting-fact_train.txt` for ("qa1", "train")."""
    task = task_id(task)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
    return f"{task}_{TASKS[task]}_{split}.txt"


def parse_babi(lines: Iterable[str], source: str = "<lines>", task: str = "") -> list[BabiSample]:
    """Parse bAbI lines into one sample per question. Malformed lines raise ValueError naming `source`
    and the line number."""
    samples: list[BabiSample] = []
    facts: list[str] = []
    fact_index: dict[int, int] = {}  # line ID -> index into `facts`, for the current story
    last_id = 0
    story = -1
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        where = f"{source}, line {number}"
        head, _, text = line.partition(" ")
        if not head.isdigit() or not text.strip():
            raise ValueError(f"{where}: expected 'ID text', got {line!r}")
        line_id = int(head)
        if line_id == 1:
            facts, fact_index, story = [], {}, story + 1
        elif line_id != last_id + 1 or story < 0:
            raise ValueError(f"{where}: line ID {line_id} does not follow {last_id} (IDs restart at 1 per story)")
        last_id = line_id
        if "\t" not in text:
            if text.rstrip().endswith("?"):
                raise ValueError(f"{where}: question without answer (expected 'question<TAB>answer<TAB>IDs')")
            fact_index[line_id] = len(facts)
            facts.append(text.strip())
            continue
        samples.append(_parse_question(text, where, facts, fact_index, task, story))
    return samples


def _parse_question(
    text: str, where: str, facts: list[str], fact_index: dict[int, int], task: str, story: int
) -> BabiSample:
    fields = text.split("\t")
    question = fields[0].strip()
    answer = fields[1].strip() if len(fields) > 1 else ""
    if not question or not answer:
        raise ValueError(f"{where}: a question line needs 'question<TAB>answer<TAB>supporting IDs', got {text!r}")
    support_text = fields[2].strip() if len(fields) > 2 else ""
    supporting = []
    for item in support_text.split():
        if not item.isdigit() or int(item) not in fact_index:
            raise ValueError(f"{where}: supporting ID {item!r} is not an earlier fact line of this story")
        supporting.append(fact_index[int(item)])
    return BabiSample(tuple(facts), question, answer, tuple(supporting), task, story)


def read_babi_file(path: str | Path, task: str | None = None) -> list[BabiSample]:
    """Parse one bAbI file. The task is taken from the file name (`qaN_...`) unless given."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"bAbI file not found: {path}")
    if task is None:
        prefix = path.name.split("_")[0]
        task = prefix if prefix in TASKS else ""
    with path.open(encoding="utf-8") as handle:
        samples = parse_babi(handle, source=str(path), task=task)
    if not samples:
        raise ValueError(f"{path}: no question lines found (not a bAbI file?)")
    return samples


def find_babi_file(root: str | Path, task: str, split: str) -> Path:
    """The file for (task, split) under `root`, which may be the folder of the files, the unpacked
    archive (`tasks_1-20_v1-2/`) or its parent. Falls back to the 1k set with a warning."""
    root = Path(root)
    name = task_file_name(task, split)
    tried = []
    for sub in _SUBDIRS_10K + _SUBDIRS_1K:
        path = root / sub / name if sub else root / name
        tried.append(str(path))
        if path.is_file():
            if sub in _SUBDIRS_1K:
                logger.warning("%s: no 10k file, using the 1k-question file %s", name, path)
            return path
    raise FileNotFoundError(f"bAbI file {name} not found; looked for:\n  " + "\n  ".join(tried))


def load_babi(task: str, split: str = "test", root: str | Path | None = None) -> list[BabiSample]:
    """All samples of one task and split from a local folder (default: `<data dir>/babi`)."""
    if root is None:
        from lm2.data.paths import data_dir

        base = data_dir()
        if base is None or not (base / "babi").is_dir():
            raise FileNotFoundError(
                "no local bAbI folder: set LM2_DATA_DIR, pass a folder, download the archive "
                "(`lm2 data babi-download`) or use the offline generator"
            )
        root = base / "babi"
    return read_babi_file(find_babi_file(root, task, split), task=task_id(task))


def supporting_facts(sample: BabiSample) -> list[str]:
    """The supporting fact sentences of a sample, in the file's order."""
    return [sample.facts[i] for i in sample.supporting]
