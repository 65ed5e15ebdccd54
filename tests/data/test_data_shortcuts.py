"""Shortcut baselines on hand-made samples: what each heuristic answers."""

from __future__ import annotations

import pytest

from lm2.data import SHORTCUTS, compare_answers, latest_places, majority_answer, shortcut_answers, story_last_label

BOOK = "The night was cold and the wind blew hard across the moor."


def test_qa1_last_mention_is_the_actors_last_move():
    sample = {
        "input": f"John went to the kitchen. {BOOK} Mary went to the office. John moved to the garden. "
        f"{BOOK} Mary went back to the bathroom.",
        "question": "Where is John?",
    }
    answers = shortcut_answers(sample, "qa1")
    assert set(answers) == set(SHORTCUTS)
    assert answers == {"last_label": "bathroom", "last_mention": "garden"}


def test_qa2_needs_two_facts_so_last_mention_fails():
    sample = {"input": "Mary got the milk there. Mary went to the hallway.", "question": "Where is the milk?"}
    assert shortcut_answers(sample, "qa2") == {"last_label": "hallway", "last_mention": ""}


def test_yes_no_last_mention_compares_the_asked_place():
    text = "Daniel went to the office. Sandra went to the garden."
    assert shortcut_answers({"input": text, "question": "Is Daniel in the office?"}, "qa6")["last_mention"] == "yes"
    assert shortcut_answers({"input": text, "question": "Is Daniel in the garden?"}, "qa6")["last_mention"] == "no"
    assert shortcut_answers({"input": text, "question": "Is Daniel in the garden?"}, "qa6")["last_label"] == ""


def test_labels_named_in_the_question_are_never_answers():
    sample = {"input": "The garden is north of the kitchen.", "question": "What is north of the kitchen?"}
    assert shortcut_answers(sample, "qa4") == {"last_label": "garden", "last_mention": "garden"}


def test_story_last_label_is_the_latest_facts_place_whoever_moved():
    facts = ["Mary went to the kitchen.", "John went to the garden."]
    assert story_last_label(facts, "Where is Mary?", "qa1") == "garden"  # wrong: Mary is in the kitchen
    assert story_last_label(facts, "Where is John?", "qa1") == "garden"  # right: the latest fact is John's
    assert story_last_label(facts, "Is Mary in the kitchen?", "qa6") == ""  # yes/no tasks have no place shortcut


def test_latest_places_gives_every_person_their_own_latest_move():
    facts = ["Mary went to the kitchen.", "John went to the garden.", "Mary moved to the office."]
    assert latest_places(facts) == {"Mary": "office", "John": "garden"}


def test_majority_answer():
    assert majority_answer(["no", "yes", "no"]) == "no"
    assert majority_answer(["b", "a"]) == "a"  # ties: alphabetical
    with pytest.raises(ValueError, match="at least one target"):
        majority_answer([])


def test_empty_shortcut_answers_are_never_correct():
    assert not compare_answers("kitchen", "", "Where is John?", "qa1")
