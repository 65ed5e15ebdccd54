"""BABILong samples: the recipe's properties, exact lengths, determinism, the on-disk layout, the Hub
release through a local copy, and the model token layout."""

from __future__ import annotations

import json
import random
import time

import pytest

from lm2.data import (
    ANSWER_ID,
    BOS_ID,
    EOS_ID,
    BabilongSample,
    build_babilong,
    build_sample,
    encode_sample,
    generate_babi,
    length_name,
    list_babilong,
    load_babilong,
    load_babilong_hub,
    parse_length,
    parse_lengths,
    prose_haystack,
    save_babilong,
    texts_haystack,
)
from lm2.data.tokenizer import count_tokens


@pytest.fixture(scope="module")
def qa2():
    return generate_babi("qa2", 200, seed=0)


@pytest.fixture(scope="module")
def haystack():
    return prose_haystack(seed=0)


def test_length_names():
    assert [parse_length(x) for x in ("0k", "1k", "128k", "1M", "3k", "1500", 2048)] == [
        0, 1000, 128_000, 1_000_000, 3000, 1500, 2048,
    ]  # fmt: skip
    assert [length_name(n) for n in (0, 1000, 4000, 128_000, 1_000_000, 2_000_000, 1500)] == [
        "0k", "1k", "4k", "128k", "1M", "2M", "1500",
    ]  # fmt: skip
    assert parse_lengths("0k, 1k,4k") == [0, 1000, 4000]
    for bad in ("4kb", "-1k", "1.5k", "", "huge"):
        with pytest.raises(ValueError, match=r"allowed: 0k, 1k, 2k, .*1M"):
            parse_length(bad)


@pytest.mark.parametrize("length", [1000, 4000, 16_000])
def test_sample_reaches_the_length_with_facts_in_order(qa2, haystack, tokenizer, length):
    for babi in qa2[:5]:
        sample = build_sample(babi, length, tokenizer, haystack, random.Random(1))
        exact = len(tokenizer.encode(sample.input, add_special_tokens=False))
        assert exact == sample.num_tokens
        assert length - 8 <= exact <= length  # the last background sentence is cut at a word boundary
        position = -1
        for fact in babi.facts:  # every fact present, in story order (a fact may repeat in a story)
            position = sample.input.index(fact, position + 1)
        assert babi.question not in sample.input and sample.question == babi.question
        assert sample.target == babi.answer and sample.supporting == babi.supporting
        assert list(sample.fact_positions) == sorted(sample.fact_positions)


def test_zero_length_is_the_facts_alone(qa2, tokenizer):
    sample = build_sample(qa2[0], 0, tokenizer, None, random.Random(0))
    assert sample.input == " ".join(qa2[0].facts)
    assert sample.num_tokens == len(tokenizer.encode(sample.input))


def test_samples_are_seeded_and_questions_shared_across_lengths(qa2, haystack, tokenizer):
    a = build_babilong(qa2, 1000, tokenizer, haystack, 10, seed=3)
    assert a == build_babilong(qa2, 1000, tokenizer, haystack, 10, seed=3)
    assert a != build_babilong(qa2, 1000, tokenizer, haystack, 10, seed=4)
    b = build_babilong(qa2, 2000, tokenizer, haystack, 10, seed=3)
    assert [s.question for s in a] == [s.question for s in b] and [s.facts for s in a] == [s.facts for s in b]


def test_same_seed_gives_byte_identical_files(qa2, tokenizer, tmp_path):
    for run in ("a", "b"):
        samples = build_babilong(qa2, 2000, tokenizer, prose_haystack(seed=0), 5, seed=0)
        save_babilong(samples, tmp_path / run, "qa2", "2k")
    assert (tmp_path / "a" / "qa2" / "2k.json").read_bytes() == (tmp_path / "b" / "qa2" / "2k.json").read_bytes()


def test_errors_are_explained(qa2, tokenizer):
    tiny = texts_haystack(["Only this one sentence is here to be used as background text."])
    with pytest.raises(ValueError, match=r"holds only \d+ tokens .* use a larger haystack or a shorter length"):
        build_sample(qa2[0], 1000, tokenizer, tiny, random.Random(0))
    with pytest.raises(ValueError, match="only 0 of the 200 bAbI samples fit in 5 tokens"):
        build_babilong(qa2, 5, tokenizer, tiny, 1)
    with pytest.raises(ValueError, match="a haystack is needed"):
        build_sample(qa2[0], 1000, tokenizer, None, random.Random(0))


def test_a_128k_sample_builds_in_well_under_a_second(qa2, haystack, tokenizer):
    build_sample(qa2[0], 128_000, tokenizer, haystack, random.Random(0))  # reads the documents once
    start = time.perf_counter()
    sample = build_sample(qa2[1], 128_000, tokenizer, haystack, random.Random(1))
    elapsed = time.perf_counter() - start
    assert 128_000 - 8 <= sample.num_tokens <= 128_000
    assert elapsed < 2.0, f"{elapsed:.2f}s"  # measured about 0.2 s (docs/data.md); slack for slow CI


def test_a_1m_sample_builds(qa2, haystack, tokenizer):
    sample = build_sample(qa2[2], parse_length("1M"), tokenizer, haystack, random.Random(2))
    assert 1_000_000 - 8 <= sample.num_tokens <= 1_000_000
    assert all(fact in sample.input for fact in sample.facts)


def test_files_hold_exactly_the_official_keys(qa2, tokenizer, haystack, tmp_path):
    samples = build_babilong(qa2, 1000, tokenizer, haystack, 3)
    path = save_babilong(samples, tmp_path, "qa2", 1000)
    assert path == tmp_path / "qa2" / "1k.json"
    records = json.loads(path.read_text())
    assert [set(r) for r in records] == [{"input", "question", "target"}] * 3
    assert load_babilong(tmp_path, "qa2", "1k") == [s.to_dict() for s in samples]
    assert list_babilong(tmp_path) == {"qa2": ["1k"]}
    with pytest.raises(FileNotFoundError, match=r"lengths present for qa2: \['1k'\]"):
        load_babilong(tmp_path, "qa2", "4k")
    path.write_text(json.dumps([{"input": "x", "question": "y"}]))
    with pytest.raises(ValueError, match="sample 0 needs string fields input, question, target"):
        load_babilong(tmp_path, "qa2", "1k")


def test_hub_release_from_a_local_copy(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = {
        "input": ["Mary went to the office. Some text."],
        "question": ["Where is Mary?"],
        "target": ["office"],
    }
    splits = datasets.DatasetDict({"qa1": datasets.Dataset.from_dict(rows)})
    splits.save_to_disk(str(tmp_path / "babilong" / "4k"))
    records = load_babilong_hub("qa1", "4k", path=tmp_path / "babilong")
    assert records == [{"input": rows["input"][0], "question": "Where is Mary?", "target": "office"}]
    with pytest.raises(ValueError, match="has no task 'qa2'"):
        load_babilong_hub("qa2", "4k", path=tmp_path / "babilong")
    with pytest.raises(FileNotFoundError, match="no saved BABILong length '8k'"):
        load_babilong_hub("qa1", "8k", path=tmp_path / "babilong")


def test_encode_sample_layout(tokenizer):
    sample = BabilongSample(input="Mary went to the office.", question="Where is Mary?", target="office")
    full = encode_sample(tokenizer, sample)
    ids, start = full["input_ids"], full["answer_start"]
    assert ids[0] == BOS_ID and ids[start - 1] == ANSWER_ID and ids[-1] == EOS_ID
    assert tokenizer.decode(ids[start:-1]).strip() == "office"
    assert tokenizer.decode(ids[1 : start - 1]) == " Mary went to the office. Where is Mary?"
    assert tokenizer.decode(ids[1 : full["question_start"]]) == " Mary went to the office."
    assert tokenizer.decode(ids[full["question_start"] : start - 1]) == " Where is Mary?"
    assert ids[1] == tokenizer.encode(" Mary")[0]  # the first word gets the same token as elsewhere
    prompt = encode_sample(tokenizer, sample.to_dict(), with_answer=False)
    assert prompt["input_ids"] == ids[:start] and prompt["answer_start"] == start
    assert count_tokens(tokenizer, [" office"]) == [1]  # a bAbI answer is one token after <ans>


def test_real_books_and_real_babi(real_babi, real_books, tokenizer):
    from lm2.data import folder_haystack, load_babi

    samples = build_babilong(load_babi("qa1", "test", real_babi), 4000, tokenizer, folder_haystack(real_books), 3)
    for sample in samples:
        assert 4000 - 8 <= sample.num_tokens <= 4000
        assert all(fact in sample.input for fact in sample.facts)
