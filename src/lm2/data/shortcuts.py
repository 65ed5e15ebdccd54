"""Shortcut baselines: answers a model could give without tracking the story, reported next to its
accuracy so that a score can be read against what cheap heuristics already achieve.

- `last_label`: the task label (not named in the question) that occurs last in the input: "the most
  recent location" for qa1-qa3, the last person or object for qa5.
- `last_mention`: the last input sentence that names something the question names; its last label not
  named in the question. Yes/no tasks answer "yes" when that sentence names the asked location. This is
  exactly right for qa1 and qa6 (one supporting fact, the actor's last move) and wrong whenever the
  answer needs a second fact (qa2, qa3), negation (qa9) or coreference (qa11, qa13).
- `majority_answer(targets)`: the most frequent target of a set (the majority-class baseline).
A heuristic that finds nothing answers "" (never correct).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping

from lm2.data.metric import task_labels

SHORTCUTS = ("last_label", "last_mention")
_YES_NO = {"no", "yes", "maybe"}
# Words of bAbI questions that name nothing in the story.
_QUESTION_WORDS = {
    "where", "what", "who", "whom", "why", "how", "is", "was", "are", "did", "does", "do", "will", "the",
    "a", "an", "in", "of", "to", "from", "before", "after", "many", "objects", "carrying", "give", "gave",
    "received", "go", "get", "color", "afraid", "fit", "bigger", "than", "you", "left", "right", "above",
    "below", "north", "south", "east", "west",
}  # fmt: skip
_WORD = re.compile(r"[A-Za-z]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _label_positions(text: str, labels: Iterable[str]) -> list[tuple[int, str]]:
    """(end position, label) of every whole-word occurrence of a label in `text` (case-insensitive)."""
    lowered = text.lower()
    found = []
    for label in labels:
        for match in re.finditer(rf"(?<![a-z]){re.escape(label.lower())}(?![a-z])", lowered):
            found.append((match.end(), label))
    return sorted(found)


def _last_label(text: str, labels: set[str]) -> str:
    positions = _label_positions(text, labels)
    return positions[-1][1] if positions else ""


def shortcut_answers(sample: Mapping, task: str) -> dict[str, str]:
    """The answer of every shortcut in SHORTCUTS for one sample (a mapping with "input" and "question",
    or a BabilongSample via `to_dict()`)."""
    record = sample.to_dict() if hasattr(sample, "to_dict") else sample
    text, question = record["input"], record["question"]
    labels = set(task_labels(task))
    in_question = {
        label for label in labels if re.search(rf"(?<![a-z]){re.escape(label.lower())}(?![a-z])", question.lower())
    }
    free = labels - in_question
    named = [w.lower() for w in _WORD.findall(question) if w.lower() not in _QUESTION_WORDS]
    yes_no = labels <= _YES_NO
    # Yes/no questions ask whether the subject is at the place named last ("Is Daniel in the office?").
    subjects = set(named[:-1] if yes_no and len(named) > 1 else named)
    answers = {"last_label": "" if yes_no else _last_label(text, free), "last_mention": ""}
    for sentence in reversed(_SENTENCE_END.split(text)):
        words = {w.lower() for w in _WORD.findall(sentence)}
        if not words & subjects:
            continue
        if yes_no:
            answers["last_mention"] = "yes" if named and named[-1] in words else "no"
            break
        label = _last_label(sentence, free)
        if label:
            answers["last_mention"] = label
            break
    return answers


def story_last_label(facts: Iterable[str], question: str, task: str) -> str:
    """`last_label` on a question's story alone (its facts, no background text): for qa1-qa3 the place named in
    the latest fact, whoever that fact is about. It is right exactly when the latest fact is the asked one's,
    and the books' place words cannot fool it, so it is what a model that answers "the latest fact's place"
    scores at every length where it still finds that fact."""
    return shortcut_answers({"input": " ".join(facts), "question": question}, task)["last_label"]


def latest_places(facts: Iterable[str]) -> dict[str, str]:
    """Every person a qa1 story names (each statement's first word, in order of first mention) and the place named
    in that person's latest statement."""
    facts = list(facts)
    persons = dict.fromkeys(fact.split(" ", 1)[0] for fact in facts)
    return {p: story_last_label([f for f in facts if f.split(" ", 1)[0] == p], f"Where is {p}?", "qa1")
            for p in persons}  # fmt: skip


def majority_answer(targets: Iterable[str]) -> str:
    """The most frequent target (ties: the alphabetically first)."""
    counts = Counter(targets)
    if not counts:
        raise ValueError("majority_answer needs at least one target")
    best = max(counts.values())
    return min(target for target, count in counts.items() if count == best)
