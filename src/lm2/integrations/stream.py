"""Feeding an input of any length through a model in chunks, carrying the `MemoryState` (DESIGN §3).

`forward(A + B) == forward(B, memory=forward(A).memory)` wherever A ends, so a long prompt can be run in
chunks of any size with `logits_to_keep=1`: the model never holds more than one chunk's activations and the
state does not grow (lm2, rmt, vanilla segmented; full-attention vanilla keeps its whole K/V cache).

Text is read and tokenized in pieces too (`text_pieces`, `token_chunks`), so a prompt file is never held
in memory as a whole. Pieces are cut only between a letter and a space followed by a letter; byte-level
BPE tokenizers (GPT-2's and Llama-3's pre-tokenization, and ours) split words there anyway, so the pieces'
tokens are exactly the whole text's tokens.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

import torch
from torch import Tensor
from transformers import PreTrainedTokenizerBase

from lm2.model import LM2ForCausalLM, MemoryState

logger = logging.getLogger(__name__)

# A letter, then a space, then a letter: we cut before the space (the second word keeps its leading space).
_SAFE_CUT = re.compile(r"(?<=[^\W\d_]) (?=[^\W\d_])")


@torch.no_grad()
def prefill(
    model: LM2ForCausalLM,
    chunks: Iterable[Tensor],
    memory: MemoryState | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> MemoryState | None:
    """Run token chunks `(b, n)` one after another, carrying the state; returns the state after the last.

    Only the last position's logits are computed (`logits_to_keep=1`). `on_chunk(n)` is called after each
    chunk with its number of tokens (progress)."""
    for ids in chunks:
        memory = model(ids, memory=memory, logits_to_keep=1).memory
        if on_chunk is not None:
            on_chunk(ids.shape[1])
    return memory


def split_columns(ids: Tensor, size: int) -> list[Tensor]:
    """`(b, L)` → consecutive column chunks of at most `size` tokens."""
    if size < 1:
        raise ValueError(f"chunk size={size} must be a positive integer")
    return list(ids.split(size, dim=1))


def state_bytes(state: MemoryState | None) -> int:
    """Bytes held by a state: the memory crossing segments plus the caches of an unfinished segment."""
    return 0 if state is None else state.nbytes


def text_pieces(stream: TextIO, size: int = 1 << 16) -> Iterator[str]:
    """Read `stream` in pieces of about `size` characters, cut where tokenization is unaffected.

    Text without such a place is kept until it reaches 4 × `size` characters and is then cut anywhere (logged:
    the tokens around that cut may differ from the whole text's)."""
    if size < 1:
        raise ValueError(f"piece size={size} must be a positive integer")
    carry = ""
    while block := stream.read(size):
        text = carry + block
        cut = _last_safe_cut(text, len(carry))
        if cut <= 0:
            if len(text) < 4 * size:
                carry = text
                continue
            logger.debug("no word boundary in %d characters; cutting the text anywhere", len(text))
            cut = len(text)
        yield text[:cut]
        carry = text[cut:]
    if carry:
        yield carry


def _last_safe_cut(text: str, searched: int) -> int:
    """Index of the last safe cut in `text`, looking only at its new part (from `searched` - 1 on)."""
    last = -1
    for match in _SAFE_CUT.finditer(text, max(0, searched - 1)):
        last = match.start()
    return last


def token_chunks(
    tokenizer: PreTrainedTokenizerBase, pieces: Iterable[str], size: int, prefix: list[int] | None = None
) -> Iterator[list[int]]:
    """Tokenize text pieces (no special tokens) and regroup the ids into chunks of exactly `size` tokens
    (the last one shorter). `prefix` ids (e.g. `[bos]`) come first."""
    if size < 1:
        raise ValueError(f"chunk size={size} must be a positive integer")
    buffer = list(prefix or [])
    for piece in pieces:
        buffer.extend(tokenizer.encode(piece, add_special_tokens=False))
        while len(buffer) >= size:
            yield buffer[:size]
            buffer = buffer[size:]
    if buffer:
        yield buffer


def hold_last(chunks: Iterable[list[int]]) -> Iterator[tuple[list[int], int | None]]:
    """Yield `(chunk, None)` for every chunk but keep the very last token out: the final item is
    `(rest, last_token)`, so the caller can prefill everything but the last token and start generation
    from it. Yields nothing for no tokens at all."""
    pending: list[int] | None = None
    for chunk in chunks:
        if pending is not None:
            yield pending, None
        pending = chunk
    if pending:
        yield pending[:-1], pending[-1]


@contextlib.contextmanager
def open_prompt(prompt: str | None = None, file: str | Path | None = None) -> Iterator[tuple[TextIO, int | None]]:
    """The prompt as a text stream and its size in bytes (None for stdin): `prompt` text, or the UTF-8
    file `file` (`"-"`: standard input). Exactly one of the two must be given."""
    if (prompt is None) == (file is None):
        raise ValueError("give exactly one of prompt (text) and file (a path, or '-' for standard input)")
    if prompt is not None:
        yield io.StringIO(prompt), len(prompt.encode("utf-8"))
    elif str(file) == "-":
        yield sys.stdin, None
    else:
        path = Path(file)
        if not path.is_file():
            raise FileNotFoundError(f"no prompt file at {path}")
        with path.open(encoding="utf-8") as stream:
            yield stream, path.stat().st_size
