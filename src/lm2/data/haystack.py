"""Background text (the "haystack") as documents of sentences, and the sampler BABILong uses.

Sources: a folder of `.txt` books (`folder_haystack`), PG19 through `datasets` (`pg19_haystack`), any
list of texts (`texts_haystack`), and the offline default (`prose_haystack`), generated prose that
needs no download. Documents are split into sentences once, on first use, and kept by the instance.

Sampling follows BABILong: a random document and a random position in it (a sentence boundary, so no
partial first sentence), then the following sentences until the token budget is reached; when the
document ends, the next one is another random document. A sample never reuses text: when every
document has been read through, the haystack is too small and `sample` raises.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from lm2.data.prose import prose_sentences

logger = logging.getLogger(__name__)

MIN_WORDS = 6  # shorter "sentences" (headings, "Yes, sir.") are dropped, like BABILong's 10-token minimum
MAX_WORDS = 250  # longer ones are tables or run-on front matter

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "st", "messrs", "mme", "mlle", "jr", "sr", "capt", "col", "gen", "lt", "rev",
    "prof", "no", "vol", "ch", "sq", "esq", "hon", "gov", "sgt", "ft", "mt", "co", "viz", "etc", "cf", "vs",
}  # fmt: skip
# A sentence ends at . ! or ? (plus closing quotes/brackets) followed by space and a capital letter or
# an opening quote.
_BOUNDARY = re.compile(r"[.!?]+[\"'\u2019\u201d)\]]*(?=\s+[\"'\u2018\u201c(\[]*[A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences: paragraphs at blank lines, whitespace collapsed, sentence ends at
    terminal punctuation before a capital (not after common abbreviations or single initials). Keeps
    sentences of MIN_WORDS..MAX_WORDS words that contain a lower-case letter."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    sentences = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        start = 0
        for match in _BOUNDARY.finditer(paragraph):
            # the word before the full stop: an abbreviation or an initial does not end a sentence
            word = paragraph[paragraph.rfind(" ", start, match.start()) + 1 : match.start()].lstrip("\"'(\u2018\u201c[")
            if paragraph[match.start()] == "." and (len(word) == 1 or word.lower() in _ABBREVIATIONS):
                continue
            sentences.append(paragraph[start : match.end()].strip())
            start = match.end()
        sentences.append(paragraph[start:].strip())
    return [s for s in sentences if MIN_WORDS <= len(s.split()) <= MAX_WORDS and any(c.islower() for c in s)]


def strip_gutenberg(text: str) -> str:
    """The book between Project Gutenberg's `*** START OF` and `*** END OF` markers, when present."""
    start = re.search(r"^\*\*\* ?START OF.*$", text, flags=re.MULTILINE)
    end = re.search(r"^\*\*\* ?END OF.*$", text, flags=re.MULTILINE)
    if start:
        text = text[start.end() : end.start() if end and end.start() > start.end() else len(text)]
    elif end:
        text = text[: end.start()]
    return text


class Haystack:
    """Documents of sentences, read lazily by `read(index)` and cached per instance."""

    def __init__(self, name: str, num_documents: int, read: Callable[[int], list[str]]):
        if num_documents < 1:
            raise ValueError(f"haystack {name!r} has no documents")
        self.name = name
        self.num_documents = num_documents
        self._read = read
        self._documents: dict[int, list[str]] = {}

    def document(self, index: int) -> list[str]:
        if index not in self._documents:
            self._documents[index] = self._read(index)
        return self._documents[index]

    def sample(
        self, rng: random.Random, budget: int, count: Callable[[Sequence[str]], list[int]]
    ) -> list[tuple[str, int]]:
        """Sentences with their token counts (`count` gives the counts of a batch) until the counts sum
        to at least `budget`. Raises ValueError when the haystack holds fewer tokens than that."""
        chosen: list[tuple[str, int]] = []
        total = 0
        for sentences in self._walk(rng):
            position = 0
            while position < len(sentences):
                size = max(16, (budget - total) // 16)  # about what is still needed, at >= 16 tokens each
                batch = sentences[position : position + size]
                for sentence, n in zip(batch, count([" " + s for s in batch]), strict=True):
                    chosen.append((sentence, n))
                    total += n
                    if total >= budget:
                        return chosen
                position += size
        raise ValueError(
            f"haystack {self.name!r} holds only {total} tokens of background text, but the sample needs "
            f"{budget}: use a larger haystack or a shorter length"
        )

    def _walk(self, rng: random.Random):
        """Sentence runs in reading order: a random document from a random sentence, the other documents
        in random order, then the skipped head of the first one."""
        first = rng.randrange(self.num_documents)
        sentences = self.document(first)
        offset = rng.randrange(len(sentences)) if sentences else 0
        yield sentences[offset:]
        others = [i for i in range(self.num_documents) if i != first]
        rng.shuffle(others)
        for index in others:
            yield self.document(index)
        yield sentences[:offset]


def texts_haystack(texts: Sequence[str], name: str = "texts") -> Haystack:
    """A haystack over in-memory texts (one document each)."""
    texts = list(texts)
    return Haystack(name, len(texts), lambda i: split_sentences(texts[i]))


def folder_haystack(path: str | Path) -> Haystack:
    """Every `*.txt` file of a folder (sorted by name) is a document; BOMs, CRLF and Project Gutenberg
    headers and footers are removed."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"haystack folder not found: {path}")
    files = sorted(path.glob("*.txt"))
    if not files:
        raise ValueError(f"haystack folder {path} holds no .txt files")

    def read(index: int) -> list[str]:
        return split_sentences(strip_gutenberg(files[index].read_text(encoding="utf-8-sig", errors="replace")))

    return Haystack(f"folder:{path}", len(files), read)


def pg19_haystack(split: str = "test", path: str | Path | None = None, repo: str = "deepmind/pg19") -> Haystack:
    """PG19 books through `datasets` (the `lm2[hub]` extra): from a copy saved with `save_to_disk` when
    `path` is given (a Dataset, or a DatasetDict holding `split`), else `load_dataset(repo, split=split)`,
    which downloads. Each row's `text` is a document."""
    loaded = open_dataset(str(path) if path is not None else repo, split)
    name = f"pg19:{path}" if path is not None else f"pg19:{repo}/{split}"
    if "text" not in loaded.column_names:
        raise ValueError(f"{name}: expected a 'text' column, found {loaded.column_names}")
    return Haystack(name, len(loaded), lambda i: split_sentences(loaded[i]["text"]))


DATA_FILE_BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".arrow": "arrow", ".csv": "csv"}
SAVED_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")  # what `save_to_disk` writes


def open_dataset(source: str, split: str, name: str | None = None, streaming: bool = False):
    """One split of a `datasets` source (the `lm2[hub]` extra), the one reader of PG19 and of the corpora
    `lm2 data tokenize` reads. `source`: a folder written by `save_to_disk` (a Dataset, or a DatasetDict
    holding `split`); local data files (.jsonl, .json, .parquet, .arrow, .csv: one file, a glob, or a folder
    of them); else a Hub dataset with config `name` (downloads). `streaming=True` iterates without a full
    download (an `IterableDataset`); a local source then takes the same path as the Hub."""
    try:
        import datasets
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(f"reading {source!r} needs the `datasets` package: pip install 'lm2[hub]'") from err
    path = Path(source)
    if path.is_dir() and any((path / marker).is_file() for marker in SAVED_MARKERS):
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            if split not in loaded:
                raise ValueError(f"{source} has no split {split!r}; it has {', '.join(loaded)}")
            loaded = loaded[split]
        return loaded.to_iterable_dataset() if streaming else loaded
    builder = DATA_FILE_BUILDERS.get(path.suffix.lower())
    if builder is not None:  # a file or a glob of files
        return datasets.load_dataset(builder, data_files=source, split="train", streaming=streaming)
    return datasets.load_dataset(source, name, split=split, streaming=streaming)  # a folder of files, or the Hub


def prose_haystack(seed: int = 0, num_documents: int = 1024, sentences_per_document: int = 500) -> Haystack:
    """The offline default: generated prose (`lm2.data.prose`), about 10k tokens per document."""
    return Haystack(
        f"prose:seed={seed}",
        num_documents,
        lambda i: prose_sentences(sentences_per_document, seed=seed * 1_000_003 + i),
    )


HAYSTACK_SPECS = "'prose', 'pg19', 'pg19:PATH' or a folder of .txt books"


def haystack_spec(spec: str | Path) -> str:
    """`spec` as `load_haystack` reads it, checked: a folder becomes its absolute path (so a record of the
    spec names the same text from anywhere); raises FileNotFoundError for a folder that does not exist."""
    text = str(spec)
    if text in ("prose", "pg19") or text.startswith("pg19:"):
        return text
    path = Path(text).expanduser().resolve()
    if not path.is_dir():
        raise FileNotFoundError(f"haystack folder not found: {spec} (or use {HAYSTACK_SPECS})")
    return str(path)


def load_haystack(spec: str | Path | None, seed: int = 0, split: str = "test") -> Haystack | None:
    """The background text named by `spec`: the one reading of `lm2 train`'s `data.haystack`, `lm2 eval`'s
    and `lm2 data`'s `--haystack`/`--pg19`. `"prose"`: the offline generated prose of `seed`; `"pg19"`:
    PG19's `split` through `datasets` (downloads); `"pg19:PATH"`: the `split` of a copy saved at PATH; else a
    folder of .txt books. None: no background text (None)."""
    if spec is None:
        return None
    text = str(spec)
    if text == "prose":
        return prose_haystack(seed=seed)
    if text == "pg19":
        return pg19_haystack(split)
    if text.startswith("pg19:"):
        return pg19_haystack(split, path=text[len("pg19:") :])
    return folder_haystack(text)
