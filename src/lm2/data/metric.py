"""BABILong's answer check: is the model's output the target and nothing else?

The rule (BABILong `compare_answers`): lower-case the output, keep its first sentence, find which of the
task's labels it mentions, drop the labels the question itself mentions, and accept when exactly the
target is left (for a list answer such as qa8 `apple,football`: exactly its items, in any order).

Two modes:
- `official`: bug-compatible with BABILong. Labels are found by substring search, so `none` also
  contains `one` and a qa7 target `none` can never be accepted; `no` is found inside `not`, `nothing`
  or `north`; the cut at "Question" never fires because it runs after lower-casing.
- `fixed` (default): the same rule with whole-word matching, and the "question" cut done in lower case.
Results must state which mode produced them.
"""

from __future__ import annotations

import re

from lm2.data.babi import task_id

_LOCATIONS = ("bathroom", "bedroom", "garden", "hallway", "kitchen", "office")

# The label sets of BABILong (booydar/babilong `TASK_LABELS`), qa1..qa20.
TASK_LABELS: dict[str, tuple[str, ...]] = {
    "qa1": _LOCATIONS,
    "qa2": _LOCATIONS,
    "qa3": _LOCATIONS,
    "qa4": _LOCATIONS,
    "qa5": ("Bill", "Fred", "Jeff", "Mary", "apple", "football", "milk"),
    "qa6": ("no", "yes"),
    "qa7": ("none", "one", "three", "two"),
    "qa8": ("apple", "football", "milk", "nothing"),
    "qa9": ("no", "yes"),
    "qa10": ("maybe", "no", "yes"),
    "qa11": _LOCATIONS,
    "qa12": _LOCATIONS,
    "qa13": _LOCATIONS,
    "qa14": ("bedroom", "cinema", "kitchen", "office", "park", "school"),
    "qa15": ("cat", "mouse", "sheep", "wolf"),
    "qa16": ("gray", "green", "white", "yellow"),
    "qa17": ("no", "yes"),
    "qa18": ("no", "yes"),
    "qa19": ("e,e", "e,n", "e,s", "n,e", "n,n", "n,w", "s,e", "s,s", "s,w", "w,n", "w,s", "w,w"),
    "qa20": ("bedroom", "bored", "garden", "hungry", "kitchen", "thirsty", "tired"),
}
MODES = ("fixed", "official")


def task_labels(task: str) -> tuple[str, ...]:
    """The label set of a task (`qa1`..`qa20`)."""
    return TASK_LABELS[task_id(task)]


def chance_level(task: str) -> float:
    """Accuracy of a uniform guess over the task's labels (for qa8 a single label, so list answers are
    never guessed; see `majority_answer` in `lm2.data.shortcuts` for the frequency-aware baseline)."""
    return 1.0 / len(task_labels(task))


def _first_sentence(output: str, mode: str) -> str:
    output = output.lower().split(".")[0]
    if mode == "official":
        for marker in ("<context>", "<example>", "Question"):  # "Question" never matches: bug kept
            output = output.split(marker)[0]
        return output
    for marker in ("<context>", "<example>", "question", "\n"):
        output = output.split(marker)[0]
    return output


def _mentions(labels: set[str], text: str, mode: str) -> set[str]:
    if mode == "official":
        return {label for label in labels if label in text}
    return {label for label in labels if re.search(rf"(?<![a-z]){re.escape(label)}(?![a-z])", text)}


def compare_answers(target: str, output: str, question: str, task: str, mode: str = "fixed") -> bool:
    """True when `output` answers `question` with exactly `target` under BABILong's rule (see module
    docstring for the two modes)."""
    if mode not in MODES:
        raise ValueError(f"unknown metric mode {mode!r}; allowed: {', '.join(MODES)}")
    labels = {label.lower() for label in task_labels(task)}
    target = target.lower().strip()
    found = _mentions(labels, _first_sentence(output, mode), mode) - _mentions(labels, question.lower(), mode)
    # official: BABILong's rule (any comma in a target longer than 3 characters); fixed: a comma-joined
    # target that is not itself a label
    is_list = "," in target and (len(target) > 3 if mode == "official" else target not in labels)
    if is_list:
        parts = target.split(",")
        return all(part in found for part in parts) and len(found) == len(parts)
    return target in found and len(found) == 1
