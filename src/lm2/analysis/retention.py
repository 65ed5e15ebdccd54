"""How far back a model's answers reach, and how long a fact's trace lasts in its memory (`lm2 retention`).

Two measurements on BABILong samples of one task at one length (docs/memory.md, stage 17):

- **accuracy by distance**: every answer binned by the tokens of the input after the last supporting fact
  (`supporting_distance`). A memory that is erased by what follows a fact answers recent facts and loses old
  ones; one whose read is disturbed by a long input loses both. The same answers are also binned by the segments
  between the fact and the question (`segments_back`): at 0, the fact is in the question's own segment, where a
  segment's attention sees it; from 1 on only a memory carries it (docs/reproduction.md, amendment 26).
- **the fact's trace**: the sample beside its counterfactual, where the supporting fact names another label of
  the task (`counterfactual`: one word swapped for one of the same token count, so both inputs have the same
  tokens everywhere else and the same segments). Both run through the model one segment at a time; the norm of
  the difference between their memory states (`memory_difference`) after each later segment, relative to
  the norm after the segment holding the swapped word, is how much of the fact is left (`trace_after`).

Both can read only the end of each input (`keep_last`): the question after its last N tokens alone, from a fresh
memory. A model that answers recent facts better that way is disturbed by what came before them, not by what
followed them. `measure` runs everything; `format_report` and `plot_retention` show it.

Notation: `S` full segments of an input, `m` bank rows, `b` batch.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from lm2.data.babilong import BabilongSample, encode_sample
from lm2.data.metric import task_labels
from lm2.evaluation.study import wilson
from lm2.files import save_atomic

TRACE_STEPS = (0, 1, 2, 4, 8, 16, 32, 64, 128)  # later segments at which the trace is reported, where the input reaches
SEGMENT_BINS = (1, 2, 4, 16)  # segments back: 0 (the question's own), 1, 2–3, 4–15, 16 or more


def _encode(tokenizer, text: str) -> list[int]:
    return tokenizer.encode(" " + text, add_special_tokens=False) if text else []


def _tokens_before(tokenizer, text: str, full: list[int], char: int) -> int:
    """Input tokens before character `char` of `text`, which must start a word (after a space, or at 0):
    encode_sample encodes `" " + text`, and a word-level split there gives the same tokens. Raises
    ValueError when the tokenizer merges across that space (the count would be ambiguous)."""
    if char == 0:
        return 0
    if text[char - 1] != " ":
        raise ValueError(f"character {char} does not start a word")
    prefix = _encode(tokenizer, text[: char - 1])
    if full[: len(prefix)] != prefix:
        raise ValueError(f"the tokenizer merges tokens across character {char}; no token boundary there")
    return len(prefix)


def fact_spans(sample: BabilongSample, tokenizer) -> list[tuple[int, int]]:
    """Per fact of `sample`, its tokens `[start, end)` among the input's tokens (`" " + sample.input`, as
    `encode_sample` encodes it; add 1 for the BOS token in front). Facts stand in the input in their order, each
    before a background sentence, so each is searched after the previous one."""
    full, starts = _encode(tokenizer, sample.input), _fact_starts(sample)
    return [_fact_span(sample, tokenizer, full, starts, index) for index in range(len(sample.facts))]


def _fact_span(sample: BabilongSample, tokenizer, full: list[int], starts: list[int], index: int) -> tuple[int, int]:
    """Fact `index`'s tokens `[start, end)` among `full`, the input's tokens; `starts`: `_fact_starts(sample)`."""
    start, end = starts[index], starts[index] + len(sample.facts[index])
    stop = len(full) if end == len(sample.input) else _tokens_before(tokenizer, sample.input, full, end + 1)
    return _tokens_before(tokenizer, sample.input, full, start), stop


def _fact_starts(sample: BabilongSample) -> list[int]:
    """The character where each fact starts in the input, each searched after the one before."""
    if not sample.facts:
        raise ValueError("the sample has no facts (metadata): build it with lm2.data.build_babilong")
    starts, at = [], 0
    for fact in sample.facts:
        start = sample.input.find(fact, at)
        if start < 0:
            raise ValueError(f"fact {fact!r} is not in the input after character {at}")
        starts.append(start)
        at = start + len(fact)
    return starts


def supporting_distance(sample: BabilongSample, tokenizer) -> int:
    """Input tokens after the end of the last supporting fact: how far back the answer lies from the question."""
    if not sample.supporting:
        raise ValueError("the sample names no supporting fact")
    full = _encode(tokenizer, sample.input)
    return len(full) - _fact_span(sample, tokenizer, full, _fact_starts(sample), max(sample.supporting))[1]


def segments_back(sample: BabilongSample, tokenizer, segment_length: int, dropped: int = 0) -> int | None:
    """Segment boundaries between the last token of the last supporting fact and the prompt's last token (`<ans>`,
    where the answer is predicted), with the prompt (`encode_sample` without the answer, BOS first) cut into
    segments of `segment_length` tokens from its start, as a segmented model reads it: 0 when the fact lies in the
    question's own segment; from 1 on only a memory can carry it there. `dropped`: the input tokens `keep_last`
    removed (the segments are then those of the prompt read); None when the fact's last token was among them."""
    if segment_length < 1:
        raise ValueError(f"segment_length={segment_length} must be at least 1")
    prompt = encode_sample(tokenizer, sample, with_answer=False)["input_ids"]
    end = fact_spans(sample, tokenizer)[max(sample.supporting)][1]  # the fact's last token is prompt[end] (BOS first)
    if end - 1 < dropped:
        return None
    return (len(prompt) - 1 - dropped) // segment_length - (end - dropped) // segment_length


@dataclass(frozen=True)
class Counterfactual:
    """A sample's prompt ids and its counterfactual's (same length), the swapped token's index, and the labels."""

    ids: list[int]
    other_ids: list[int]
    position: int  # index in `ids` of the first token that differs
    target: str
    other_target: str


def counterfactual(sample: BabilongSample, tokenizer) -> Counterfactual | None:
    """The sample with the target word of its last supporting fact that names it swapped for another label of
    the task, as prompt ids (`encode_sample` without the answer). The first label in the task's order whose
    prompt has the same number of tokens and differs only inside that fact is taken. None when no supporting
    fact names the target or no label fits."""
    word = re.compile(rf"\b{re.escape(sample.target)}\b")
    supporting = [i for i in sorted(sample.supporting) if word.search(sample.facts[i])]
    if not supporting:
        return None
    index, starts = supporting[-1], _fact_starts(sample)
    prompt = encode_sample(tokenizer, sample, with_answer=False)
    ids = prompt["input_ids"]
    start, end = _fact_span(sample, tokenizer, ids[1 : prompt["question_start"]], starts, index)
    fact, at = sample.facts[index], starts[index]
    hit = list(word.finditer(fact))[-1]
    for label in task_labels(sample.task):
        if label.lower() == sample.target.lower():
            continue
        new_fact = fact[: hit.start()] + label + fact[hit.end() :]
        text = sample.input[:at] + new_fact + sample.input[at + len(fact) :]
        other = BabilongSample(text, sample.question, label, sample.task)
        other_ids = encode_sample(tokenizer, other, with_answer=False)["input_ids"]
        if len(other_ids) != len(ids):
            continue
        changed = [j for j, (a, b) in enumerate(zip(ids, other_ids, strict=True)) if a != b]
        if changed and 1 + start <= changed[0] and changed[-1] < 1 + end:  # 1: the BOS token
            return Counterfactual(ids, other_ids, changed[0], sample.target, label)
    return None


def carries_memory(model) -> bool:
    """True for a model whose memory crosses segments (lm2, rmt, armt); not for full attention or vanilla segments."""
    return model.config.segment_length is not None and bool(memory_tensors(model.model.initial_state(1, model.device)))


def memory_tensors(state) -> list[Tensor]:
    """What crosses a segment boundary in a `MemoryState`, as `(b, …)` tensors: LM2's bank, RMT's (and recurrent
    ARMT's) memory tokens, ARMT's associative matrices and normalisers."""
    return [t for t in (state.memory, state.associative, state.normalizer) if t is not None]


@torch.no_grad()
def memory_difference(model, ids: Tensor, other: Tensor) -> tuple[Tensor, Tensor | None]:
    """Run `ids` and `other` (both `(L,)`, the same length) through `model` one segment at a time from a fresh
    stream, side by side in one batch. Returns the norm of the difference between their memory states after
    each full segment `(S,)` (all memory tensors together) and, for LM2, per bank row `(S, m)` (else None).

    Raises ValueError for a model without memory crossing segments (full attention, vanilla segments)."""
    length = model.config.segment_length
    if not carries_memory(model):
        raise ValueError(f"arch={model.config.arch!r} carries no memory across segments; nothing to compare")
    if ids.shape != other.shape or ids.ndim != 1:
        raise ValueError(f"ids and other must be two (length,) tensors of one length, got {ids.shape}, {other.shape}")
    pair = torch.stack([ids, other])
    state = model.model.initial_state(2, ids.device)
    totals, rows = [], []
    for start in range(0, (len(ids) // length) * length, length):
        state = model(pair[:, start : start + length], memory=state, logits_to_keep=1).memory
        parts = [t[0].double() - t[1].double() for t in memory_tensors(state)]
        totals.append(math.sqrt(sum(float(p.pow(2).sum()) for p in parts)))
        if model.config.arch == "lm2":
            rows.append(parts[0].norm(dim=-1))
    return torch.tensor(totals, dtype=torch.float64), torch.stack(rows) if rows else None


def trace_after(totals: Tensor, position: int, segment_length: int, steps: Sequence[int] = TRACE_STEPS) -> dict:
    """The difference after `k` later segments relative to its value after the segment holding token `position`,
    for each k of `steps` the input reaches (None where that first difference is 0: the memory did not take the
    swapped word)."""
    first = position // segment_length  # index in `totals` of the segment holding the swapped token
    if first >= len(totals) or totals[first] == 0:
        return {k: None for k in steps if first + k < len(totals)}
    return {k: float(totals[first + k] / totals[first]) for k in steps if first + k < len(totals)}


def distance_bins(edges: Sequence[int]) -> list[tuple[int, int | None]]:
    """`[0, e1), [e1, e2), …, [e_last, ∞)` from increasing positive edges."""
    edges = list(edges)
    if not edges or any(e <= 0 for e in edges) or edges != sorted(set(edges)):
        raise ValueError(f"distance bin edges must be increasing positive token counts, got {edges}")
    lows = [0, *edges]
    return [(low, high) for low, high in zip(lows, [*edges, None], strict=True)]


def accuracy_by_distance(
    distances: Sequence[int], correct: Sequence[bool], edges: Sequence[int], shortcut: Sequence[bool] | None = None
) -> list[dict]:
    """Per distance bin: samples, correct answers, accuracy and its 95 % Wilson interval (None when empty), and
    the accuracy of the last-label shortcut (the label named last in the input, `lm2.data.shortcuts`) on the same
    samples where `shortcut` (its hits) is given: a bin of recent facts holds most of the samples whose supporting
    fact is the last fact, which that shortcut answers, so its accuracy there is not the model's at short inputs."""
    if len(distances) != len(correct) or (shortcut is not None and len(shortcut) != len(correct)):
        raise ValueError(f"{len(distances)} distances for {len(correct)} answers")
    table = []
    for low, high in distance_bins(edges):
        inside = [i for i, d in enumerate(distances) if d >= low and (high is None or d < high)]
        n, k = len(inside), sum(bool(correct[i]) for i in inside)
        interval = wilson(k, n) if n else (None, None)
        row = {"from": low, "to": high, "samples": n, "correct": k, "accuracy": k / n if n else None,
               "interval": list(interval)}  # fmt: skip
        if shortcut is not None:
            row["last_label"] = sum(bool(shortcut[i]) for i in inside) / n if n else None
        table.append(row)
    return table


def measure(
    model,
    tokenizer,
    samples: Sequence[BabilongSample],
    edges: Sequence[int],
    metric: str = "fixed",
    batch_size: int = 16,
    max_new_tokens: int = 8,
    steps: Sequence[int] = TRACE_STEPS,
    last: int | None = None,
) -> dict:
    """Both measurements on `samples` (one task, one length): the answers (greedy, as `lm2 eval`) binned by
    `supporting_distance` at `edges`, and, for a model with memory crossing segments, the fact's trace after
    `steps` later segments (median over the inputs that reach that far) and, for LM2, the median share of the
    difference in the bank row the swapped token wrote. `last`: read only the input's last `last` tokens
    (`keep_last`), for the answers and the trace alike; distances stay those of the whole input. Returns a
    JSON-able dict with every sample's record."""
    from lm2.data.metric import compare_answers
    from lm2.data.shortcuts import shortcut_answers
    from lm2.evaluation.run import answer_in_batches

    if not samples:
        raise ValueError("no samples to measure")
    distance_bins(edges)  # the edges' check, before the answers are decoded
    if last is not None and last < 1:
        raise ValueError(f"last={last} must be at least 1 (None: the whole input)")
    whole = [encode_sample(tokenizer, s, with_answer=False) for s in samples]
    # The first input tokens `keep_last` drops: all but the last `last` of input_ids[1:question_start].
    dropped = [0 if last is None else max(0, p["question_start"] - 1 - last) for p in whole]
    prompts = [keep_last(p["input_ids"], d) for p, d in zip(whole, dropped, strict=True)]
    outputs, _ = answer_in_batches(model, tokenizer, prompts, batch_size, max_new_tokens)
    records = []
    for s, out in zip(samples, outputs, strict=True):
        guess = shortcut_answers(s, s.task)["last_label"]
        records.append(
            {"distance": supporting_distance(s, tokenizer), "target": s.target, "output": out,
             "correct": compare_answers(s.target, out, s.question, s.task, mode=metric),
             "last_label": compare_answers(s.target, guess, s.question, s.task, mode=metric)}
        )  # fmt: skip
    correct = [r["correct"] for r in records]
    distances, shortcut = [r["distance"] for r in records], [r["last_label"] for r in records]
    length = model.config.segment_length  # None: full attention without segments (no segments back either)
    for sample, record, cut in zip(samples, records, dropped, strict=True):
        record["segments_back"] = None if length is None else segments_back(sample, tokenizer, length, cut)
    kept = [i for i, r in enumerate(records) if r["segments_back"] is not None]
    by_segments = None if length is None else accuracy_by_distance(
        [records[i]["segments_back"] for i in kept], [correct[i] for i in kept], SEGMENT_BINS,
        [shortcut[i] for i in kept],
    )  # fmt: skip
    result = {
        "samples": len(samples),
        "accuracy": sum(correct) / len(correct),
        "by_distance": accuracy_by_distance(distances, correct, edges, shortcut),
        "segment_length": length,
        "by_segments_back": by_segments,
        "keep_last": last,
        "trace": None,
    }
    if not carries_memory(model):
        return {**result, "records": records}
    curves, shares, skipped = {k: [] for k in steps}, {k: [] for k in steps}, 0
    for sample, record, cut in zip(samples, records, dropped, strict=True):
        swap = counterfactual(sample, tokenizer)
        if swap is None or swap.position - cut < 1:  # no label fits, or the swapped word was dropped
            skipped += 1
            continue
        ids = torch.tensor(keep_last(swap.ids, cut), device=model.device)
        other = torch.tensor(keep_last(swap.other_ids, cut), device=model.device)
        totals, rows = memory_difference(model, ids, other)
        position = swap.position - cut
        curve = trace_after(totals, position, length, steps)
        record["trace"] = {"position": position, "swapped_for": swap.other_target, "after": curve}
        first = position // length
        for k, value in curve.items():
            if value is None:  # the memory did not take the swapped word: nothing to follow
                continue
            curves[k].append(value)
            if rows is not None and totals[first + k] > 0:
                shares[k].append(float((rows[first + k, position % length] / totals[first + k]) ** 2))
    result["trace"] = {
        "skipped": skipped,
        "steps": {
            str(k): {"inputs": len(curves[k]), "median": statistics.median(curves[k]),
                     "own_row_share": statistics.median(shares[k]) if shares[k] else None}
            for k in steps if curves[k]
        },
    }  # fmt: skip
    return {**result, "records": records}


def keep_last(ids: list[int], dropped: int) -> list[int]:
    """A prompt (`encode_sample`'s ids: BOS, input, question, `<ans>`) without the first `dropped` input tokens:
    the same question read after the rest of the input alone, from a fresh memory with BOS in front."""
    return ids[:1] + ids[1 + dropped :]


def bin_label(row: dict) -> str:
    """`0–127`, `1` or `≥ 512`: a bin of `accuracy_by_distance`."""
    if row["to"] is None:
        return f"≥ {row['from']}"
    return str(row["from"]) if row["to"] == row["from"] + 1 else f"{row['from']}–{row['to'] - 1}"


def format_report(result: dict, name: str) -> str:
    """Markdown: the accuracy by distance and the fact's trace of one `measure` result."""
    lines = [f"### {name}: {result['samples']} samples, accuracy {100 * result['accuracy']:.1f} %", ""]
    if result.get("keep_last") is not None:
        lines[-1:] = [
            f"Read from {result['keep_last']} tokens before the question (the input's earlier tokens dropped).",
            "",
        ]
    lines += _bin_table("tokens after the supporting fact", result["by_distance"])
    if result.get("by_segments_back") is not None:
        lines += [
            "",
            *_bin_table(f"segments back ({result['segment_length']} tokens each)", result["by_segments_back"]),
        ]
    trace = result["trace"]
    if trace is None:
        lines += ["", "No memory crosses segments: no trace."]
        return "\n".join(lines) + "\n"
    lines += ["", "| later segments | inputs | trace left (median) | share in the swapped token's row |"]
    lines += ["|---:|---:|---:|---:|"]
    for k, row in trace["steps"].items():
        left = "–" if row["median"] is None else f"{row['median']:.3f}"
        share = "–" if row["own_row_share"] is None else f"{row['own_row_share']:.3f}"
        lines.append(f"| {k} | {row['inputs']} | {left} | {share} |")
    cut = "" if result.get("keep_last") is None else " or lost the swapped word to --keep-last"
    lines.append(f"\n{trace['skipped']} inputs had no counterfactual (no label of the same token count fits){cut}.")
    return "\n".join(lines) + "\n"


def _bin_table(title: str, rows: list[dict]) -> list[str]:
    lines = [f"| {title} | samples | accuracy % | 95 % interval | last-label shortcut % |", "|---|---:|---:|---|---:|"]
    for row in rows:
        span = bin_label(row)
        if row["samples"]:
            low, high = row["interval"]
            shortcut = "–" if row.get("last_label") is None else f"{100 * row['last_label']:.1f}"
            lines.append(
                f"| {span} | {row['samples']} | {100 * row['accuracy']:.1f} | {100 * low:.1f}–{100 * high:.1f} "
                f"| {shortcut} |"
            )
        else:
            lines.append(f"| {span} | 0 | – | – | – |")
    return lines


def plot_retention(result: dict, path: str | Path, name: str) -> Path:
    """retention.png: the accuracy per distance bin with its 95 % interval beside the last-label shortcut (left),
    and the fact's trace and its share in the swapped token's row against later segments (right; absent without a
    trace)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    rows = [r for r in result["by_distance"] if r["samples"]]
    labels = [bin_label(r) for r in rows]
    x = range(len(rows))
    accuracy = [100 * r["accuracy"] for r in rows]
    errors = [[a - 100 * r["interval"][0] for a, r in zip(accuracy, rows, strict=True)],
              [100 * r["interval"][1] - a for a, r in zip(accuracy, rows, strict=True)]]  # fmt: skip
    left.bar(x, accuracy, yerr=errors, capsize=3, color="tab:blue", label="model (95 % interval)")
    shortcut = [None if r.get("last_label") is None else 100 * r["last_label"] for r in rows]
    if any(s is not None for s in shortcut):
        left.plot(x, shortcut, "k_", markersize=18, markeredgewidth=2, label="last-label shortcut")
    left.set_xticks(list(x), labels)
    left.set(xlabel="tokens after the supporting fact", ylabel="accuracy %", ylim=(0, 100), title=name)
    left.legend(fontsize="small")
    trace = result["trace"]
    if trace is None or not trace["steps"]:
        right.set_visible(False)
    else:
        steps = [int(k) for k in trace["steps"]]
        right.plot(steps, [trace["steps"][str(k)]["median"] for k in steps], marker="o", label="trace left (median)")
        shares = [trace["steps"][str(k)]["own_row_share"] for k in steps]
        if all(s is not None for s in shares):
            right.plot(steps, shares, marker=".", label="share in the swapped token's row")
        right.set_xscale("symlog", base=2)
        right.set_xticks(steps, [str(k) for k in steps])
        right.axhline(1.0, color="grey", linewidth=0.6)
        right.set(xlabel="later segments", title="the fact's trace in the memory")
        right.legend(fontsize="small")
    return save_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110))
