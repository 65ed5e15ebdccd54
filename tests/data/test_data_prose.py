"""The offline background prose: deterministic, sentence-shaped, and free of bAbI words."""

from __future__ import annotations

import re

from lm2.data import TASK_LABELS, prose_sentences, split_sentences

# Every actor of the 20 bAbI tasks, and their objects and places beyond the label sets.
BABI_NAMES = {
    "mary", "john", "sandra", "daniel", "bill", "fred", "jeff", "julie", "jason", "antoine", "sumit", "yann",
    "lily", "bernhard", "greg", "brian", "julius", "gertrude", "winona", "jessica", "emily",
}  # fmt: skip
BABI_THINGS = {
    "apple", "football", "milk", "park", "school", "cinema", "box", "chest", "chocolate", "chocolates",
    "container", "suitcase", "triangle", "rectangle", "square", "sphere", "swan", "lion", "frog", "rhino",
    "cats", "mice", "wolves",
}  # fmt: skip


def test_same_seed_same_sentences():
    assert prose_sentences(50, seed=2) == prose_sentences(50, seed=2)
    assert prose_sentences(50, seed=2) != prose_sentences(50, seed=3)


def test_sentences_look_like_prose_and_split_back_cleanly():
    sentences = prose_sentences(2000, seed=0)
    assert all(s[0].isupper() and s[-1] in ".!?" for s in sentences)
    assert split_sentences(" ".join(sentences)) == sentences
    assert len(set(sentences)) > 1500


def test_no_babi_actor_object_place_or_label_ever_appears():
    words = {w.lower() for s in prose_sentences(20_000, seed=0) for w in re.findall(r"[A-Za-z]+", s)}
    labels = {part.lower() for labels in TASK_LABELS.values() for label in labels for part in label.split(",")}
    # Everyday words that are also labels (yes/no answers, counts, "nothing", path letters) may appear.
    allowed = {"yes", "no", "maybe", "none", "one", "two", "three", "nothing", "n", "s", "e", "w"}
    assert not words & BABI_NAMES
    assert not words & BABI_THINGS
    assert not words & (labels - allowed)
