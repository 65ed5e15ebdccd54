"""The bAbI parser and the local-folder source."""

from __future__ import annotations

import pytest

from lm2.data import (
    TASKS,
    babi_samples,
    find_babi_file,
    load_babi,
    parse_babi,
    parse_tasks,
    read_babi_file,
    supporting_facts,
    task_file_name,
    task_id,
)

STORY = """\
1 Olga rowed to the lighthouse.
2 Ravi walked to the bakery.
3 Where is Olga? \tlighthouse\t1
4 Tomas drove to the bakery.
5 Ines cycled to the harbour.
6 Where is Tomas? \tbakery\t4
1 Olga found the lantern there.
2 Olga lifted the rope there.
3 What is Olga carrying?\tlantern,rope\t1 2
"""


def test_one_sample_per_question_with_preceding_facts():
    samples = parse_babi(STORY.splitlines(), task="qa1")
    assert [s.question for s in samples] == ["Where is Olga?", "Where is Tomas?", "What is Olga carrying?"]
    first, second, third = samples
    assert first.facts == ("Olga rowed to the lighthouse.", "Ravi walked to the bakery.")
    # earlier questions are dropped from the facts, their facts kept
    assert second.facts == first.facts + ("Tomas drove to the bakery.", "Ines cycled to the harbour.")
    assert second.supporting == (2,) and supporting_facts(second) == ["Tomas drove to the bakery."]
    # a new story starts at ID 1: no facts carried over; list answers stay one string
    assert third.facts == ("Olga found the lantern there.", "Olga lifted the rope there.")
    assert third.answer == "lantern,rope" and third.supporting == (0, 1)
    assert (first.story, second.story, third.story) == (0, 0, 1)


def test_windows_line_endings_and_blank_lines_are_accepted():
    lines = [line + "\r\n" for line in STORY.splitlines()] + ["\n"]
    assert parse_babi(lines) == parse_babi(STORY.splitlines())


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["1 Mary went home.", "2 Where is Mary?"], "line 2: question without answer"),
        (["1 Mary went home.", "2 Where is Mary?\t\t1"], "line 2: a question line needs"),
        (["1 Mary went home.", "3 John went home."], "line 2: line ID 3 does not follow 1"),
        (["x Mary went home."], "line 1: expected 'ID text'"),
        (["1 Mary went home.", "2 Where is Mary?\thome\t5"], "line 2: supporting ID '5'"),
        (["1 Where is Mary?\thome\t1"], "line 1: supporting ID '1'"),
        (["2 Mary went home."], "line 1: line ID 2 does not follow 0"),
    ],
)
def test_malformed_lines_name_the_source_and_line(lines, message):
    with pytest.raises(ValueError, match=rf"my.txt, ({message})"):
        parse_babi(lines, source="my.txt")


def test_a_question_without_answer_is_an_error(tmp_path):
    path = tmp_path / "qa1_single-supporting-fact_test.txt"
    path.write_text("1 Mary went to the office.\n2 Where is Mary?\n")
    with pytest.raises(ValueError, match=rf"{path.name}, line 2"):
        read_babi_file(path)


def test_missing_files_and_unknown_tasks_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="qa2_two-supporting-facts_train.txt not found"):
        find_babi_file(tmp_path, "qa2", "train")
    with pytest.raises(ValueError, match="allowed: qa1, qa2, .*qa20"):
        task_id("qa21")
    with pytest.raises(ValueError, match="allowed: train, test"):
        task_file_name("qa1", "valid")
    assert parse_tasks("qa1, 2,QA3,qa4_two-arg-relations") == ["qa1", "qa2", "qa3", "qa4"]
    assert parse_tasks("all") == list(TASKS)


def test_folder_layouts_and_1k_fallback(tmp_path):
    name = task_file_name("qa1", "test")
    (tmp_path / "tasks_1-20_v1-2" / "en-10k").mkdir(parents=True)
    (tmp_path / "tasks_1-20_v1-2" / "en-10k" / name).write_text(STORY)
    assert load_babi("qa1", "test", tmp_path)[0].task == "qa1"
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / task_file_name("qa3", "train")).write_text(STORY)
    assert find_babi_file(tmp_path, "qa3", "train") == tmp_path / "en" / task_file_name("qa3", "train")


def test_generated_source_gives_different_splits():
    train = babi_samples("qa1", "train", "generate", num_generated=20)
    test = babi_samples("qa1", "test", "generate", num_generated=20)
    assert len(train) == len(test) == 20 and train != test


def test_every_real_file_parses(real_babi):
    for task in TASKS:
        samples = load_babi(task, "test", real_babi)
        assert len(samples) == 1000, task
        assert all(s.task == task and s.supporting and s.facts for s in samples)
        assert all(max(s.supporting) < len(s.facts) for s in samples)
    assert len(load_babi("qa1", "train", real_babi)) == 10_000
