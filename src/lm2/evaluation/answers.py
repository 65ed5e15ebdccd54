"""Batched greedy answers to BABILong prompts, their score under the BABILong metric, and the score of
the baselines a number is read against (chance, shortcuts, the majority answer, and where the samples
carry their stories' statements, the latest fact's place)."""

from __future__ import annotations

from collections import Counter

import torch

from lm2.data import SHORTCUTS, chance_level, compare_answers, majority_answer, shortcut_answers, story_last_label


@torch.no_grad()
def generate_answers(
    model, tokenizer, prompts: list[list[int]], max_new_tokens: int = 8, batch_size: int = 16
) -> list[str]:
    """Greedy continuations of `prompts` (token ids ending with `<ans>`), stopped at `</s>`, decoded.

    Prompts are left-padded into batches; the model reads any prompt length through its segments and
    decodes with its cache."""
    device = next(model.parameters()).device
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    answers: list[str] = []
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))  # similar lengths share a batch
    decoded: dict[int, str] = {}
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        width = max(len(prompts[i]) for i in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for r, i in enumerate(rows):
            ids[r, width - len(prompts[i]) :] = torch.tensor(prompts[i])
            mask[r, width - len(prompts[i]) :] = 1
        out = model.generate(
            ids.to(device), attention_mask=mask.to(device), max_new_tokens=max_new_tokens, do_sample=False,
            eos_token_id=eos, pad_token_id=pad,
        )  # fmt: skip
        for r, i in enumerate(rows):
            decoded[i] = tokenizer.decode(out[r, width:].tolist(), skip_special_tokens=True).strip()
    answers = [decoded[i] for i in range(len(prompts))]
    return answers


def accuracy(targets: list[str], outputs: list[str], questions: list[str], task: str, mode: str = "fixed") -> float:
    """Share of outputs the BABILong metric accepts."""
    if not targets:
        return 0.0
    hits = sum(compare_answers(t, o, q, task, mode=mode) for t, o, q in zip(targets, outputs, questions, strict=True))
    return hits / len(targets)


def latest_fact_answers(samples: list[dict], task: str) -> list[str] | None:
    """Per sample, the place named in its story's latest statement (`story_last_label`), whoever that statement
    is about; None when the samples do not carry their statements ("facts") or the task has no such answer."""
    if not samples or not all("facts" in s for s in samples):
        return None
    answers = [story_last_label(s["facts"], s["question"], task) for s in samples]
    return answers if any(answers) else None


def baseline_accuracies(samples: list[dict], task: str, mode: str = "fixed") -> dict[str, float]:
    """What answering without reading the story scores on `samples` under the same metric: `chance` (a
    uniform guess over the task's labels), each shortcut of `lm2.data.shortcuts`, and `majority` (always
    the most frequent target of these samples); with the stories' statements, `latest_fact`: the place named
    in the latest one, which the background's words cannot fool (what a model scores that answers "the
    latest fact's place" wherever it still finds that fact)."""
    targets = [s["target"] for s in samples]
    questions = [s["question"] for s in samples]
    guesses = [shortcut_answers(s, task) for s in samples]
    scores = {"chance": chance_level(task)}
    for name in SHORTCUTS:
        scores[name] = accuracy(targets, [g[name] for g in guesses], questions, task, mode)
    majority = majority_answer(targets) if targets else ""
    scores["majority"] = accuracy(targets, [majority] * len(targets), questions, task, mode)
    if (latest := latest_fact_answers(samples, task)) is not None:
        scores["latest_fact"] = accuracy(targets, latest, questions, task, mode)
    if samples and all("group" in s for s in samples):
        scores["person_blind"] = person_blind_bound(samples)
    return scores


def groups(samples: list[dict]) -> dict[int, list[int]]:
    """The indices of the samples of each input (records with a "group", as `GeneratedSource(every_person=True)`
    makes them: one input asked about every person of its story)."""
    found: dict[int, list[int]] = {}
    for i, sample in enumerate(samples):
        found.setdefault(sample["group"], []).append(i)
    return found


def person_blind_bound(samples: list[dict]) -> float:
    """The most any answer that ignores whom the question asks about can score on grouped samples: per input, as
    many as share its most frequent target. A model above it answers according to the person asked."""
    best = sum(max(Counter(samples[i]["target"] for i in rows).values()) for rows in groups(samples).values())
    return best / len(samples)


def several_answers(samples: list[dict], outputs: list[str]) -> float:
    """Share of the inputs (grouped samples) given more than one distinct answer."""
    found = groups(samples)
    return sum(len({outputs[i].strip().lower() for i in rows}) > 1 for rows in found.values()) / len(found)


def latest_fact_wrong(
    samples: list[dict], outputs: list[str], task: str, mode: str = "fixed"
) -> dict[str, float | int] | None:
    """The model's accuracy on the samples whose answer is not the latest fact's place (None without the
    stories' statements, or when there is no such sample). At or below chance there, the model does not answer
    the one asked about; above it, it may still not (naming an earlier fact's place, whoever is asked, also
    scores above chance there)."""
    latest = latest_fact_answers(samples, task)
    if latest is None:
        return None
    rows = [i for i, (s, place) in enumerate(zip(samples, latest, strict=True))
            if not compare_answers(s["target"], place, s["question"], task, mode=mode)]  # fmt: skip
    if not rows:
        return None
    picked = [samples[i] for i in rows]
    score = accuracy([s["target"] for s in picked], [outputs[i] for i in rows], [s["question"] for s in picked],
                     task, mode)  # fmt: skip
    return {"samples": len(rows), "accuracy": score}
