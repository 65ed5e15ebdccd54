"""The project's tokenizer: a byte-level BPE trained with `tokenizers`, used as a `transformers`
`PreTrainedTokenizerFast`.

Special tokens have fixed ids: `<pad>`=0, `<s>`=1 (beginning), `</s>`=2 (end), `<ans>`=3 (separates the
question from the answer; see `lm2.data.babilong.encode_sample`). Encoding adds no special tokens by
itself. Pre-tokenisation is GPT-2's (words keep their leading space, `add_prefix_space=False`), so the
token count of texts joined by single spaces is the sum of the counts of `" " + text` for all but the
first: the BABILong builder relies on this to hit a target length without re-encoding.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

logger = logging.getLogger(__name__)

PAD_TOKEN, BOS_TOKEN, EOS_TOKEN, ANSWER_TOKEN = "<pad>", "<s>", "</s>", "<ans>"
PAD_ID, BOS_ID, EOS_ID, ANSWER_ID = 0, 1, 2, 3
SPECIAL_TOKENS = (PAD_TOKEN, BOS_TOKEN, EOS_TOKEN, ANSWER_TOKEN)  # in id order
# 2048 = 256 bytes + 4 specials + 1788 merges: enough for every bAbI word to be one token with room for
# common English, small enough that the embedding of a tiny model stays small.
DEFAULT_VOCAB_SIZE = 2048
_DEFAULT_VERSION = 2  # bump when the default tokenizer's training text changes (invalidates caches)


def train_tokenizer(
    texts: Iterable[str], vocab_size: int = DEFAULT_VOCAB_SIZE, min_frequency: int = 2
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on `texts`; the same texts in the same order give the same tokenizer."""
    if vocab_size < 256 + len(SPECIAL_TOKENS):
        raise ValueError(f"vocab_size={vocab_size} is too small: the byte alphabet and special tokens need 260")
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    return _wrap(backend)


def _wrap(backend: Tokenizer) -> PreTrainedTokenizerFast:
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD_TOKEN,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        extra_special_tokens={"answer_token": ANSWER_TOKEN},
    )
    _check_special_ids(tokenizer, "trained tokenizer")
    return tokenizer


def _check_special_ids(tokenizer: PreTrainedTokenizerFast, where: str) -> None:
    ids = tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS))
    if ids != [PAD_ID, BOS_ID, EOS_ID, ANSWER_ID]:
        raise ValueError(f"{where}: special tokens {SPECIAL_TOKENS} must have ids 0..3, found {ids}")


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    """Load a tokenizer saved with `save_pretrained` (a folder with `tokenizer.json`) or a bare
    `tokenizer.json` file; checks the special-token ids."""
    path = Path(path)
    if path.is_file():
        tokenizer = _wrap(Tokenizer.from_file(str(path)))
    elif (path / "tokenizer.json").is_file():
        tokenizer = PreTrainedTokenizerFast.from_pretrained(str(path))
        _check_special_ids(tokenizer, str(path))
    else:
        raise FileNotFoundError(f"no tokenizer at {path} (expected a folder with tokenizer.json, or the file)")
    return tokenizer


def generated_story_texts(num_stories: int = 400) -> list[str]:
    """Generated bAbI stories of every generated task, as `story_texts`."""
    from lm2.data.babi.generator import GENERATED_TASKS, generate_babi_lines

    texts = []
    for task in GENERATED_TASKS:
        texts.extend(story_texts(generate_babi_lines(task, num_stories, seed=0)))
    return texts


def default_training_text() -> list[str]:
    """The default tokenizer's training text, built offline: 400 generated stories of each generated
    task (questions and answers included) and 20,000 sentences of generated prose."""
    from lm2.data.prose import prose_sentences

    return generated_story_texts() + paragraphs(prose_sentences(20_000, seed=0))


def story_texts(lines: Iterable[str]) -> list[str]:
    """bAbI file lines -> one text per story, sentences joined by spaces as in a BABILong input and each
    question followed by its answer (so " Where", " kitchen" are learnt with their leading space)."""
    texts: list[str] = []
    story: list[str] = []
    for line in lines:
        number, _, text = line.strip().partition(" ")
        if not text:
            continue
        if number == "1" and story:
            texts.append(" ".join(story))
            story = []
        story.append(" ".join(part.strip() for part in text.split("\t")[:2]))
    if story:
        texts.append(" ".join(story))
    return texts


def paragraphs(sentences: Sequence[str], size: int = 20) -> list[str]:
    """Sentences grouped `size` at a time into space-joined training texts."""
    return [" ".join(sentences[i : i + size]) for i in range(0, len(sentences), size)]


def default_tokenizer(vocab_size: int = DEFAULT_VOCAB_SIZE, cache: bool = True) -> PreTrainedTokenizerFast:
    """The project's default tokenizer, trained offline and deterministically on
    `default_training_text()`; cached under `<cache dir>/tokenizers/` keyed by its parameters."""
    from lm2.data.paths import cache_dir

    key = f"default-v{_DEFAULT_VERSION}-{vocab_size}"
    folder = cache_dir() / "tokenizers" / key
    if cache and (folder / "tokenizer.json").is_file():
        return load_tokenizer(folder)
    tokenizer = train_tokenizer(default_training_text(), vocab_size=vocab_size)
    if cache:
        tmp = folder.with_name(f"{key}.tmp{os.getpid()}")
        tokenizer.save_pretrained(str(tmp))
        try:
            tmp.replace(folder)
        except OSError:  # another process won the race; its copy is identical
            shutil.rmtree(tmp, ignore_errors=True)
            logger.debug("tokenizer cache %s already written", folder)
        logger.info("cached the default tokenizer in %s", folder)
    return tokenizer


def count_tokens(tokenizer: PreTrainedTokenizerFast, texts: Sequence[str]) -> list[int]:
    """Token counts of `texts` (no special tokens), batched through the Rust backend when there is one."""
    if not texts:
        return []
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        return [len(e.ids) for e in backend.encode_batch(list(texts), add_special_tokens=False)]
    return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerFast) -> str:
    """A short hash of the tokenizer's vocabulary and merges (to record which tokenizer built a set)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    text = backend.to_str() if backend is not None else repr(sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
