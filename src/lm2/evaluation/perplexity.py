"""Held-out perplexity at several context lengths (`lm2 perplexity`; the reproduction study's language-model
test, docs/reproduction.md).

Every context length scores the **same tokens**: each document is cut into spans of the longest context
(the tail shorter than a span is dropped), each span into windows of the context being measured, and the
model reads each window from a fresh state, so a token at position p of its window is predicted from the p
tokens before it. The tokens at the start of a window of the shortest context have no context at that length
and are left out at every length. What changes between lengths is only how much of the document precedes a
token: a model whose loss falls as the context grows uses it.

Windows are read in chunks that carry the model's state (`memory=`), which computes exactly what one call
over the whole window computes (the model's streaming contract, DESIGN §5), and bounds the logits held at
once. Besides the perplexity, each length records the mean loss per block of `bucket` positions of the window
(the first block without its first token): the loss against the position, a model's use of its context.

    record = context_perplexity(model, documents, contexts=[1000, 4000, 16000])
    run_perplexity(model, tokenizer, {"book": text}, [1000, 4000, 16000], out)   # resumable, results.json
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor

from lm2.data.babilong import length_name
from lm2.data.tokenizer import tokenizer_fingerprint
from lm2.evaluation.run import model_fingerprint, model_summary, versions
from lm2.files import write_atomic

RESULTS_FILE = "perplexity.json"
FORMAT = "lm2-perplexity/1"


def check_contexts(contexts: Sequence[int]) -> list[int]:
    """`contexts` sorted; each at least 2 tokens and dividing the longest (so windows tile its spans)."""
    found = sorted(set(contexts))
    if not found or found[0] < 2:
        raise ValueError(f"contexts={list(contexts)} must be token counts of at least 2")
    if any(found[-1] % c for c in found):
        raise ValueError(f"contexts={found}: each must divide the longest ({found[-1]}) so that every length "
                         "scores the same tokens; e.g. 1k,4k,16k")  # fmt: skip
    return found


def spans(documents: Sequence[Sequence[int]], span: int) -> Tensor:
    """`(n, span)` token ids: every whole span of every document, in order."""
    rows = [doc[i * span : (i + 1) * span] for doc in documents for i in range(len(doc) // span)]
    if not rows:
        longest = max((len(d) for d in documents), default=0)
        raise ValueError(f"no document has {span} tokens (the longest context); the longest has {longest}")
    return torch.tensor(rows, dtype=torch.long)


@torch.no_grad()
def token_losses(model, ids: Tensor, chunk: int) -> Tensor:
    """`(b, L)` cross-entropy (nats, float32) of each token of `ids` given the tokens before it in its row;
    column 0 (nothing before it) is NaN. The rows are read `chunk` tokens at a time, carrying the state."""
    losses = torch.full(ids.shape, float("nan"))
    state, previous = None, None  # previous: the logits that predict the chunk's first token
    for start in range(0, ids.shape[1], chunk):
        piece = ids[:, start : start + chunk]
        out = model(piece, memory=state)
        logits = out.logits.float()
        if previous is not None:
            logits = torch.cat([previous, logits], dim=1)
            targets, first = piece, start
        else:
            targets, first = piece[:, 1:], 1
        nll = torch.nn.functional.cross_entropy(
            logits[:, : targets.shape[1]].reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none"
        )  # fmt: skip
        losses[:, first : start + piece.shape[1]] = nll.view(targets.shape).cpu()
        state, previous = out.memory, logits[:, -1:]
    return losses


def context_perplexity(
    model,
    documents: Sequence[Sequence[int]],
    contexts: Sequence[int],
    batch_tokens: int = 32_768,
    chunk: int = 2048,
    bucket: int | None = None,
    on_context: Callable[[int, dict], None] | None = None,
    skip: Callable[[int], bool] = lambda context: False,
) -> dict[int, dict]:
    """Perplexity of the same tokens of `documents` (token id lists) at each of `contexts` (see the module).

    `batch_tokens`: windows read at once × their length (at least one window); `chunk`: tokens per call;
    `bucket`: positions per block of the loss-by-position curve (default: the shortest context). Returns
    {context: record}; `on_context(context, record)` is called as each finishes; contexts for which `skip` is
    true are not run."""
    contexts = check_contexts(contexts)
    shortest, span = contexts[0], contexts[-1]
    bucket = bucket or shortest
    device = next(model.parameters()).device
    rows = spans(documents, span)
    scored = torch.arange(span) % shortest != 0  # the same tokens at every length
    found = {}
    for context in contexts:
        if skip(context):
            continue
        start = time.perf_counter()
        windows = rows.view(-1, context)
        per_batch = max(1, batch_tokens // context)
        losses = torch.cat([token_losses(model, windows[i : i + per_batch].to(device), min(chunk, context))
                            for i in range(0, len(windows), per_batch)])  # fmt: skip
        flat = losses.view(len(rows), span)[:, scored]
        mean = flat.double().mean().item()
        by_position = losses.nan_to_num(0.0).double()
        counts = (~losses.isnan()).double()
        buckets = [(by_position[:, i : i + bucket].sum() / counts[:, i : i + bucket].sum()).item()
                   for i in range(0, context, bucket)]  # fmt: skip
        found[context] = {
            "context": context,
            "tokens": int(flat.numel()),
            "windows": len(windows),
            "loss": mean,
            "perplexity": math.exp(mean),
            "bucket": bucket,
            "position_loss": buckets,
            "seconds": round(time.perf_counter() - start, 3),
        }
        if on_context is not None:
            on_context(context, found[context])
    return found


def run_perplexity(
    model,
    tokenizer,
    texts: Mapping[str, str],
    contexts: Sequence[int],
    out: str | Path,
    batch_tokens: int = 32_768,
    chunk: int = 2048,
    model_path: str | Path | None = None,
    on_context: Callable[[int, dict], None] | None = None,
) -> dict:
    """`context_perplexity` of the documents `texts` (name → text, each encoded whole) into `out/perplexity.json`,
    saved after every context; run again, it keeps the finished contexts. A folder holding another model's,
    tokenizer's or data's results is refused (ValueError naming the difference)."""
    out = Path(out)
    contexts = check_contexts(contexts)
    documents = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts.values()]
    identity = {
        "format": FORMAT,
        "model": model_fingerprint(model),
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "documents": {
            name: {"tokens": len(ids), "sha256": hashlib.sha256(text.encode()).hexdigest()[:16]}
            for (name, text), ids in zip(texts.items(), documents, strict=True)
        },  # fmt: skip
        "span": contexts[-1],
        "shortest": contexts[0],
    }
    path = out / RESULTS_FILE
    results = json.loads(path.read_text()) if path.exists() else {"identity": identity, "contexts": {}}
    for key, value in identity.items():
        if results["identity"].get(key) != value:
            raise ValueError(f"{path} holds another evaluation ({key}: {results['identity'].get(key)!r}, now "
                             f"{value!r}); choose another --out or delete it")  # fmt: skip
    results.update(model=model_summary(model, model_path), versions=versions())
    out.mkdir(parents=True, exist_ok=True)

    def save(context: int, record: dict) -> None:
        results["contexts"][str(context)] = record
        results["contexts"] = dict(sorted(results["contexts"].items(), key=lambda item: int(item[0])))
        write_atomic(path, json.dumps(results, indent=1) + "\n")
        if on_context is not None:
            on_context(context, record)

    model.eval()
    context_perplexity(model, documents, contexts, batch_tokens, chunk, on_context=save,
                       skip=lambda context: str(context) in results["contexts"])  # fmt: skip
    return results  # saved after each context it ran (nothing ran: the file is as it was)


def load_perplexity(path: str | Path) -> dict:
    """The results of `run_perplexity` from a folder or its perplexity.json."""
    path = Path(path)
    return json.loads((path / RESULTS_FILE if path.is_dir() else path).read_text())


def perplexity_table(runs: Mapping[str, dict]) -> str:
    """Markdown: one row per model, perplexity at each context length (name → `run_perplexity`'s results)."""
    contexts = sorted({int(c) for results in runs.values() for c in results["contexts"]})
    lines = ["| model | parameters | " + " | ".join(f"{length_name(c)} context" for c in contexts) + " |",
             "|---|---:|" + "---:|" * len(contexts)]  # fmt: skip
    for name, results in runs.items():
        cells = [results["contexts"].get(str(c)) for c in contexts]
        shown = ["—" if r is None else f"{r['perplexity']:.2f}" for r in cells]
        lines.append(f"| {name} | {results['model']['parameters']:,} | " + " | ".join(shown) + " |")
    return "\n".join(lines)
