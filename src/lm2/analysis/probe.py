"""Whether the facts of an input can be read back from a model's memory at all: trained probes (`lm2 probe`).

`lm2 retention` shows whether a model answers a fact and whether the fact's trace is still in its memory; a
trace is a difference between two memories and does not say whether the fact can be read from one of them. This
asks that directly (docs/reproduction.md, amendment 12), on bAbI qa1, where four people move between six places and
each fact sets one person's place:

- training inputs (BABILong samples of one length) run through the model one segment at a time; after every
  `every` segments the memory state, as a set of rows (`memory_rows`), is one snapshot, labelled, for each person
  named before it, with that person's latest place then (`places_at`);
- two probes answer from the standardised snapshots, one output per person, each checked on the last `holdout`
  share of the training inputs: a multinomial logistic regression on the flattened state (`train_probes`; float64,
  L-BFGS, the L2 weight chosen by that check, then refitted on all inputs), and a learned query per person that
  reads the rows by softmax attention (`AttentionProbe`, `train_attention_probes`; kept at its best check). The
  linear probe fits a memory whose rows have fixed meanings; only the attention probe can follow a fact that sits
  in a different row from one input to the next, as in LM2's bank;
- test inputs give one snapshot each, the state entering the segment that holds the question: each probe answers
  the person asked (binned by the tokens after the supporting fact, as `lm2 retention` bins the model's own
  answers) and every person named before that state (binned by the tokens between their latest fact and it).

A probe that reads a model's far facts says they are in its memory in a readable form, so what fails is the
model's read; one that does not, where it reads another model's, says the writes after them buried them.

Notation: `L` segment length, `D` flattened memory size, `n` snapshots.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from lm2.analysis.retention import accuracy_by_distance, bin_label, carries_memory, fact_spans
from lm2.data.babilong import BabilongSample, encode_sample
from lm2.data.metric import task_labels

PROBE_TASKS = ("qa1",)  # tasks whose every fact sets one person's place and whose question asks one person's place
DEFAULT_L2 = (1e-4, 1e-3, 1e-2, 1e-1)
_QUESTION = re.compile(r"^Where is (\w+)\?$")


def check_task(task: str) -> None:
    if task not in PROBE_TASKS:
        raise ValueError(
            f"task={task!r} cannot be probed; allowed: {', '.join(PROBE_TASKS)} (each fact sets one person's place)"
        )


def asked_person(sample: BabilongSample) -> str:
    """The person a qa1 question asks about (`Where is Mary?` → `Mary`)."""
    match = _QUESTION.match(sample.question.strip())
    if match is None:
        raise ValueError(f"question {sample.question!r} is not a qa1 question (`Where is <person>?`)")
    return match.group(1)


def fact_place(fact: str, labels: Sequence[str]) -> tuple[str, str]:
    """(person, place) of a qa1 fact (`Mary moved to the bathroom.` → `('Mary', 'bathroom')`): its first word and
    the last of its words that is a label of the task."""
    words = re.findall(r"[A-Za-z]+", fact)
    places = [w.lower() for w in words if w.lower() in labels]
    if not words or not places:
        raise ValueError(f"fact {fact!r} names no place among {', '.join(labels)}")
    return words[0], places[-1]


def places_at(sample: BabilongSample, spans: Sequence[tuple[int, int]], boundary: int, labels: Sequence[str]) -> dict:
    """Per person whose fact ends before prompt token `boundary` (a segment boundary; the prompt has BOS in front
    of the input's tokens, so fact tokens `[a, b)` of `fact_spans` stand at `[1 + a, 1 + b)`): their latest place
    then, the tokens from its fact's end to the boundary, and whether it is the place of the latest fact before it
    (a last-label shortcut over the facts alone; place words in the background do not count)."""
    latest, last_place = {}, None
    for fact, (_, end) in zip(sample.facts, spans, strict=True):
        if 1 + end > boundary:
            break
        person, place = fact_place(fact, labels)
        latest[person] = (place, boundary - 1 - end)
        last_place = place
    return {p: {"place": place, "distance": d, "last_label": place == last_place} for p, (place, d) in latest.items()}


def boundaries(question_start: int, segment_length: int, every: int) -> tuple[list[int], int]:
    """Snapshot boundaries (prompt tokens before them) of one prompt: after every `every` segments while they end
    at or before the segment holding the question, and the state entering that segment."""
    question = (question_start // segment_length) * segment_length
    step = every * segment_length
    return list(range(step, question + 1, step)), question


def memory_rows(state) -> Tensor:
    """A memory state as a set of rows `(b, rows, width)`: LM2's bank rows, RMT's memory tokens, and ARMT's
    associative matrices row by row with the normaliser's entry for that row as one more column (memory tokens
    beside them padded with a zero column)."""
    parts = []
    if state.memory is not None:
        parts.append(state.memory)
    if state.associative is not None:
        a, z = state.associative, state.normalizer
        parts.append(torch.cat([a, z[..., None].to(a.dtype)], dim=-1).flatten(1, 2))
    if not parts:
        raise ValueError(f"arch={state.arch!r}: no memory crosses segments; nothing to probe")
    width = max(part.shape[-1] for part in parts)
    return torch.cat([F.pad(part.float(), (0, width - part.shape[-1])) for part in parts], dim=1)


@torch.no_grad()
def memory_snapshots(model, prompts: Sequence[Sequence[int]], cuts: Sequence[Sequence[int]], batch_size: int = 8):
    """The memory state after the first `c` tokens of each prompt for each `c` of its `cuts` (multiples of the
    segment length), as `(len(cuts[i]), rows, width)` float32 tensors on the CPU (`memory_rows`). Prompts run
    side by side in batches, right padded: the state after `c` tokens depends on those tokens only, so the
    padding changes nothing before it."""
    length = model.config.segment_length
    if not carries_memory(model):
        raise ValueError(f"arch={model.config.arch!r} carries no memory across segments; nothing to probe")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be at least 1")
    for prompt, points in zip(prompts, cuts, strict=True):
        bad = [c for c in points if c <= 0 or c % length or c > len(prompt)]
        if bad:
            raise ValueError(f"cuts {bad} are not segment boundaries inside a prompt of {len(prompt)} tokens")
    pad = model.config.pad_token_id or 0
    out: list[list[Tensor]] = [[] for _ in prompts]
    for first in range(0, len(prompts), batch_size):
        rows = range(first, min(first + batch_size, len(prompts)))
        end = max((max(cuts[i]) for i in rows if cuts[i]), default=0)
        ids = torch.full((len(rows), end), pad, dtype=torch.long)
        for j, i in enumerate(rows):
            kept = list(prompts[i][:end])
            ids[j, : len(kept)] = torch.tensor(kept, dtype=torch.long)
        ids = ids.to(model.device)
        state = model.model.initial_state(len(rows), model.device)
        for start in range(0, end, length):
            state = model(ids[:, start : start + length], memory=state, logits_to_keep=1).memory
            flat = None
            for j, i in enumerate(rows):
                if start + length in cuts[i]:
                    if flat is None:
                        flat = memory_rows(state).cpu()
                    out[i].append(flat[j])
    return [torch.stack(snaps) if snaps else torch.zeros(0) for snaps in out]


@dataclass
class Standardiser:
    """Per-feature mean and spread of training snapshots (a constant feature gets spread 1)."""

    mean: Tensor
    std: Tensor

    @classmethod
    def fit(cls, x: Tensor) -> Standardiser:
        x = x.double()
        std = x.std(dim=0, unbiased=False)
        return cls(x.mean(dim=0), torch.where(std > 1e-12, std, torch.ones_like(std)))

    def __call__(self, x: Tensor) -> Tensor:
        return (x.double() - self.mean) / self.std


def fit_probes(x: Tensor, y: Tensor, classes: int, l2: Sequence[float], max_iter: int = 200) -> tuple[Tensor, Tensor]:
    """One multinomial logistic regression per column `p` of `y` (`(n, P)` class indices, -1 where row `n` has
    no label for `p`), fitted together: weights `(P, D, classes)` and biases `(P, classes)` minimising, per `p`,
    the mean cross-entropy of `x @ W[p] + b[p]` over its labelled rows plus `l2[p] * ||W[p]||²` (float64,
    full-batch L-BFGS from zero). The problems share no parameter, so fitting them together gives each its own
    minimum; it reads `x` once per step for all of them."""
    if len(l2) != y.shape[1] or any(v < 0 for v in l2):
        raise ValueError(f"l2={list(l2)} must be {y.shape[1]} weights of at least 0, one per column of y")
    x, (n, people) = x.double(), y.shape
    counts = (y >= 0).sum(dim=0).clamp(min=1).double()
    penalty = torch.tensor(list(l2), dtype=torch.float64)
    weight = torch.zeros(x.shape[1], people * classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(people * classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        logits = (x @ weight + bias).view(n, people, classes).transpose(1, 2)  # (n, classes, P)
        losses = F.cross_entropy(logits, y, ignore_index=-1, reduction="none").sum(dim=0) / counts
        squares = weight.view(-1, people, classes).pow(2).sum(dim=(0, 2))
        loss = (losses + penalty * squares).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    weights = weight.detach().view(-1, people, classes).permute(1, 0, 2)
    return weights.contiguous(), bias.detach().view(people, classes)


def predict(weights: Tensor, biases: Tensor, x: Tensor) -> Tensor:
    """`(n, P)`: each probe's class for each row of `x`."""
    return (torch.einsum("nd,pdc->npc", x.double(), weights) + biases).argmax(dim=-1)


def _labels(examples: Sequence[dict], labels: Sequence[str], rows: int, holdout: float):
    """The people of `examples` (sorted), their columns, the labels `(rows, people)` (class index, -1 where a
    snapshot has none for that person) and which rows belong to the held-out inputs (the last `holdout` share)."""
    if not 0 < holdout < 1:
        raise ValueError(f"holdout={holdout} must be between 0 and 1")
    inputs = sorted({e["input"] for e in examples})
    if len(inputs) < 2:
        raise ValueError(f"{len(inputs)} training input(s); the held-out check needs at least 2")
    first_held = inputs[min(len(inputs) - 1, max(1, math.ceil((1 - holdout) * len(inputs))))]
    people = sorted({e["person"] for e in examples})
    index, column = {label: k for k, label in enumerate(labels)}, {p: k for k, p in enumerate(people)}
    y = torch.full((rows, len(people)), -1, dtype=torch.long)
    held = torch.zeros(rows, dtype=torch.bool)
    for e in examples:
        y[e["row"], column[e["person"]]] = index[e["place"]]
        held[e["row"]] = e["input"] >= first_held
    return people, column, y, held


def train_probes(
    x: Tensor, examples: Sequence[dict], labels: Sequence[str], l2s: Sequence[float], holdout: float = 0.2
) -> dict:
    """Per person of `examples` (`{"row", "input", "person", "place"}`: row of `x`, training input it came
    from), the L2 weight of `l2s` with the best accuracy on the inputs of the last `holdout` share when fitted on
    the others (ties: the larger weight), and the probe refitted on every input with it. Returns `{"people",
    "predict", "summary": {person: {"l2", "holdout", "train_accuracy", "examples"}}}`; `predict` maps standardised
    snapshots `(n, D)` to each person's class `(n, people)`."""
    if not l2s:
        raise ValueError("no L2 weights to choose from")
    people, column, y, held = _labels(examples, labels, x.shape[0], holdout)
    labelled = y >= 0
    scores = {}
    for l2 in l2s:
        weights, biases = fit_probes(x[~held], y[~held], len(labels), [l2] * len(people))
        right = (predict(weights, biases, x[held]) == y[held]) & labelled[held]
        scores[l2] = (right.sum(dim=0) / labelled[held].sum(dim=0).clamp(min=1)).tolist()
    best = [max(sorted(l2s, reverse=True), key=lambda l2, k=k: scores[l2][k]) for k in range(len(people))]
    weights, biases = fit_probes(x, y, len(labels), best)
    train = ((predict(weights, biases, x) == y) & labelled).sum(dim=0) / labelled.sum(dim=0).clamp(min=1)
    summary = {
        p: {"l2": best[k], "holdout": {str(l2): scores[l2][k] for l2 in l2s}, "train_accuracy": float(train[k]),
            "examples": int(labelled[:, k].sum())}
        for p, k in column.items()
    }  # fmt: skip
    return {"people": people, "predict": lambda rows: predict(weights, biases, rows), "summary": summary}


class AttentionProbe(torch.nn.Module):
    """Per person a learned query that reads the memory's rows by softmax attention, and a linear map from what it
    reads to the places: a read of the kind LM2's own is, with weights of its own. Keys are the rows through one
    linear map plus a learned vector per row, so it can find a row by its content or by its place."""

    def __init__(self, rows: int, width: int, people: int, classes: int, heads: int = 4, head_dim: int = 16):
        super().__init__()
        inner = heads * head_dim
        self.heads, self.head_dim = heads, head_dim
        self.key, self.value = torch.nn.Linear(width, inner), torch.nn.Linear(width, inner)
        self.place = torch.nn.Parameter(torch.zeros(rows, inner))
        self.query = torch.nn.Parameter(0.1 * torch.randn(people, heads, head_dim))
        self.out = torch.nn.Parameter(0.1 * torch.randn(people, inner, classes))
        self.bias = torch.nn.Parameter(torch.zeros(people, classes))

    def forward(self, rows: Tensor) -> Tensor:
        """`(n, rows, width)` → logits `(n, people, classes)`."""
        n, count, _ = rows.shape
        keys = (self.key(rows) + self.place).view(n, count, self.heads, self.head_dim)
        values = self.value(rows).view(n, count, self.heads, self.head_dim)
        weights = (torch.einsum("nrhd,phd->nphr", keys, self.query) / math.sqrt(self.head_dim)).softmax(dim=-1)
        read = torch.einsum("nphr,nrhd->nphd", weights, values).flatten(2)
        return torch.einsum("npe,pec->npc", read, self.out) + self.bias


def train_attention_probes(
    rows: Tensor,
    examples: Sequence[dict],
    labels: Sequence[str],
    holdout: float = 0.2,
    steps: int = 3000,
    batch_size: int = 256,
    lr: float = 3e-3,
    check_every: int = 100,
    seed: int = 0,
) -> dict:
    """`AttentionProbe` on standardised snapshots `rows` `(n, rows, width)` for every person of `examples` (as
    `train_probes`), trained with Adam on the inputs before the last `holdout` share; kept at the check (every
    `check_every` steps) with the best mean accuracy over the people on the held-out inputs. Returns what
    `train_probes` returns, with the step kept in the summary."""
    people, column, y, held = _labels(examples, labels, rows.shape[0], holdout)
    rows = rows.float()
    fit, check = (~held).nonzero().squeeze(1), held.nonzero().squeeze(1)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    probe = AttentionProbe(rows.shape[1], rows.shape[2], len(people), len(labels))
    optimizer = torch.optim.Adam(probe.parameters(), lr=lr)

    def accuracy(at: Tensor) -> Tensor:
        with torch.no_grad():
            guess = torch.cat([probe(rows[at[i : i + 1024]]).argmax(-1) for i in range(0, len(at), 1024)])
        labelled = y[at] >= 0
        return ((guess == y[at]) & labelled).sum(dim=0) / labelled.sum(dim=0).clamp(min=1)

    best, kept, scores = -1.0, None, {}
    for step in range(1, steps + 1):
        batch = fit[torch.randint(len(fit), (min(batch_size, len(fit)),), generator=generator)]
        logits = probe(rows[batch]).transpose(1, 2)  # (b, classes, people)
        loss = F.cross_entropy(logits, y[batch], ignore_index=-1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % check_every == 0 or step == steps:
            scores[step] = accuracy(check).tolist()
            if sum(scores[step]) / len(people) > best:
                best, kept = (
                    sum(scores[step]) / len(people),
                    (step, {k: v.clone() for k, v in probe.state_dict().items()}),
                )
    probe.load_state_dict(kept[1])
    probe.eval()
    train = accuracy(fit)
    summary = {
        p: {"step": kept[0], "holdout": scores[kept[0]][k], "train_accuracy": float(train[k]),
            "examples": int((y[:, k] >= 0).sum())}
        for p, k in column.items()
    }  # fmt: skip

    def answer(x: Tensor) -> Tensor:
        with torch.no_grad():
            return probe(x.float().view(-1, *rows.shape[1:])).argmax(dim=-1)

    return {"people": people, "predict": answer, "summary": summary}


def _prompts(samples: Sequence[BabilongSample], tokenizer) -> list[dict]:
    return [encode_sample(tokenizer, s, with_answer=False) for s in samples]


def measure(
    model,
    tokenizer,
    train: Sequence[BabilongSample],
    test: Sequence[BabilongSample],
    edges: Sequence[int],
    every: int = 16,
    l2s: Sequence[float] = DEFAULT_L2,
    holdout: float = 0.2,
    batch_size: int = 8,
    attention_steps: int = 3000,
) -> dict:
    """Both probes (`train_probes`, `train_attention_probes`) trained on the memory snapshots of `train` (every
    `every` segments), tested on the state entering the question's segment of each `test` sample: the person
    asked (binned at `edges` by the tokens after the supporting fact) and every person named before that state
    (binned by the tokens after their latest fact). Returns a JSON-able dict with every test record."""
    if every < 1:
        raise ValueError(f"every={every} must be at least 1")
    if not train or not test:
        raise ValueError(f"{len(train)} training and {len(test)} test samples; both are needed")
    for sample in (*train, *test):
        check_task(sample.task)
    labels = [label.lower() for label in task_labels("qa1")]
    length = model.config.segment_length

    prompts = _prompts(train, tokenizer)
    cuts = [boundaries(p["question_start"], length, every)[0] for p in prompts]
    snaps = memory_snapshots(model, [p["input_ids"] for p in prompts], cuts, batch_size)
    rows, examples = [], []
    for i, (sample, points, x) in enumerate(zip(train, cuts, snaps, strict=True)):
        spans = fact_spans(sample, tokenizer)
        for point, features in zip(points, x, strict=True):
            for person, fact in places_at(sample, spans, point, labels).items():
                examples.append({"row": len(rows), "input": i, "person": person, "place": fact["place"]})
            rows.append(features)
    if not examples:
        raise ValueError("no training snapshot follows a fact: the inputs are shorter than `every` segments")
    shape = rows[0].shape
    flat = torch.stack(rows).flatten(1)
    del rows, snaps
    scale = Standardiser.fit(flat)
    x_train = scale(flat)
    del flat
    probes = {
        "linear": train_probes(x_train, examples, labels, l2s, holdout),
        "attention": train_attention_probes(x_train.view(-1, *shape), examples, labels, holdout, attention_steps),
    }
    del x_train

    prompts = _prompts(test, tokenizer)
    points = [boundaries(p["question_start"], length, every)[1] for p in prompts]
    usable = [k for k, point in enumerate(points) if point > 0]
    got = memory_snapshots(model, [prompts[k]["input_ids"] for k in usable], [[points[k]] for k in usable], batch_size)
    state = {k: scale(x.flatten(1)) for k, x in zip(usable, got, strict=True)}
    result = {
        "train": {"inputs": len(train), "snapshots": _labelled_snapshots(examples), "examples": len(examples),
                  "every": every, "rows": list(shape), "holdout": holdout, "l2": list(l2s),
                  "attention_steps": attention_steps},
        "chance": 1 / len(labels),
        "samples": len(test),
        "probes": {},
    }  # fmt: skip
    questions = _questions(test, tokenizer, points, state, labels)
    for kind, probe in probes.items():
        asked, everyone = _answers(probe, questions, state, labels)
        result["probes"][kind] = {
            "training": probe["summary"],
            "asked": {"accuracy": sum(r["correct"] for r in asked) / len(asked), "by_distance": _table(asked, edges)},
            "everyone": {"examples": len(everyone), "by_distance": _table(everyone, edges) if everyone else []},
            "records": {"asked": asked, "everyone": everyone},
        }
    return result


def _labelled_snapshots(examples: Sequence[dict]) -> int:
    """Snapshots behind `examples` (rows of the training matrix with at least one label)."""
    return len({e["row"] for e in examples})


def _table(records: Sequence[dict], edges: Sequence[int]) -> list[dict]:
    return accuracy_by_distance([r["distance"] for r in records], [r["correct"] for r in records], edges,
                                [r["last_label"] for r in records])  # fmt: skip


def _questions(test, tokenizer, points, state, labels) -> list[dict]:
    """What every probe is scored on, per test sample: the person asked, the answer, the distance of the supporting
    fact, whether `lm2 retention`'s last-label shortcut is right; and, where the sample has a state, every person
    named before the question's segment with their place (`places_at`; its shortcut: the latest fact's place)."""
    from lm2.analysis.retention import supporting_distance
    from lm2.data.shortcuts import shortcut_answers

    out = []
    for k, sample in enumerate(test):
        target = sample.target.lower()
        shortcut = shortcut_answers(sample, sample.task)["last_label"].lower()
        named = places_at(sample, fact_spans(sample, tokenizer), points[k], labels) if k in state else {}
        distance = supporting_distance(sample, tokenizer)
        out.append({"person": asked_person(sample), "target": target, "distance": distance,
                    "last_label": shortcut == target, "named": named})  # fmt: skip
    return out


def _answers(probe: dict, questions: list[dict], state: dict, labels) -> tuple[list[dict], list[dict]]:
    """One probe's answers to `_questions`: for the person each asks, and for every person named before it."""
    answers = {k: probe["predict"](x)[0] for k, x in state.items()}

    def answer(k: int, person: str) -> str | None:
        if k not in answers or person not in probe["people"]:
            return None  # no state (the question in the first segment), or a person never named in training
        return labels[int(answers[k][probe["people"].index(person)])]

    asked, everyone = [], []
    for k, q in enumerate(questions):
        guess = answer(k, q["person"])
        asked.append({"person": q["person"], "target": q["target"], "probe": guess, "correct": guess == q["target"],
                      "distance": q["distance"], "last_label": q["last_label"]})  # fmt: skip
        for name, fact in q["named"].items():
            guess = answer(k, name)
            everyone.append({"input": k, "person": name, "place": fact["place"], "probe": guess,
                             "correct": guess == fact["place"], "distance": fact["distance"],
                             "last_label": fact["last_label"]})  # fmt: skip
    return asked, everyone


def format_report(result: dict, name: str) -> str:
    """Markdown: per probe, its training and the two test tables of one `measure` result."""
    train = result["train"]
    lines = [
        f"### {name}",
        "",
        f"Probes trained on {train['snapshots']} memory snapshots of {train['inputs']} inputs (every {train['every']} "
        f"segments; {' × '.join(map(str, train['rows']))} rows × width; {train['examples']} person-place examples); "
        f"chance {100 * result['chance']:.1f} %.",
    ]
    for kind, probe in result["probes"].items():
        choice = "L2 weight" if kind == "linear" else "step kept"
        lines += [
            "",
            f"#### {kind} probe",
            "",
            f"| person | examples | {choice} | held-out accuracy % | training accuracy % |",
        ]
        lines += ["|---|---:|---:|---:|---:|"]
        for person, row in probe["training"].items():
            held = row["holdout"][str(row["l2"])] if kind == "linear" else row["holdout"]
            chosen = f"{row['l2']:g}" if kind == "linear" else str(row["step"])
            lines.append(
                f"| {person} | {row['examples']} | {chosen} | {100 * held:.1f} | {100 * row['train_accuracy']:.1f} |"
            )
        sections = (
            (f"The person asked, {result['samples']} questions (accuracy {100 * probe['asked']['accuracy']:.1f} %)",
             "tokens after the supporting fact", "last-label shortcut", probe["asked"]["by_distance"]),
            (f"Every person named before the question's segment, {probe['everyone']['examples']} examples",
             "tokens after their latest fact", "latest fact's place", probe["everyone"]["by_distance"]),
        )  # fmt: skip
        for title, column, shortcut, rows in sections:
            lines += ["", f"{title}:", "", f"| {column} | examples | probe % | 95 % interval | {shortcut} % |"]
            lines += ["|---|---:|---:|---|---:|"]
            for row in rows:
                if not row["samples"]:
                    lines.append(f"| {bin_label(row)} | 0 | – | – | – |")
                    continue
                low, high = row["interval"]
                lines.append(
                    f"| {bin_label(row)} | {row['samples']} | {100 * row['accuracy']:.1f} "
                    f"| {100 * low:.1f}–{100 * high:.1f} | {100 * row['last_label']:.1f} |"
                )
    return "\n".join(lines) + "\n"
