"""The byte-level BPE tokenizer: fixed special ids, save/load identity, determinism, compact bAbI words,
and the additivity of token counts that the BABILong builder relies on."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from lm2.data import (
    ANSWER_ID,
    ANSWER_TOKEN,
    BOS_ID,
    DEFAULT_VOCAB_SIZE,
    EOS_ID,
    GENERATED_TASKS,
    PAD_ID,
    SPECIAL_TOKENS,
    babi_stats,
    count_tokens,
    default_tokenizer,
    generate_babi,
    load_tokenizer,
    train_tokenizer,
)
from lm2.data import tokenizer as tokenizer_module

TEXTS = ["Mary went to the kitchen. Where is Mary? kitchen"] * 50 + ["The old road ran along the river bank."] * 50


def test_special_tokens_have_fixed_ids(tokenizer):
    assert isinstance(tokenizer, PreTrainedTokenizerFast)
    assert (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id) == (
        PAD_ID,
        BOS_ID,
        EOS_ID,
    )
    assert tokenizer.answer_token_id == ANSWER_ID == tokenizer.convert_tokens_to_ids(ANSWER_TOKEN)
    assert tokenizer.convert_ids_to_tokens([0, 1, 2, 3]) == list(SPECIAL_TOKENS)
    # encoding adds nothing; the special strings are recognised as single tokens
    assert tokenizer("<s>Mary<ans> kitchen</s>")["input_ids"][0] == BOS_ID
    assert BOS_ID not in tokenizer("Mary went home.")["input_ids"]


def test_save_load_identity(tokenizer, tmp_path):
    tokenizer.save_pretrained(str(tmp_path))
    assert (tmp_path / "tokenizer.json").is_file()
    text = "Daniel journeyed to the hallway. Is Daniel in the office? no"
    for loaded in (load_tokenizer(tmp_path), load_tokenizer(tmp_path / "tokenizer.json"),
                   AutoTokenizer.from_pretrained(str(tmp_path))):  # fmt: skip
        assert loaded.encode(text) == tokenizer.encode(text)
        assert loaded.convert_tokens_to_ids(list(SPECIAL_TOKENS)) == [0, 1, 2, 3]
    assert load_tokenizer(tmp_path).answer_token_id == ANSWER_ID


def test_loading_rejects_other_special_ids(tmp_path):
    """A tokenizer whose special tokens sit at other ids (here <s> and <pad> swapped) is refused."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<ans>"])
    backend.train_from_iterator(TEXTS, trainer=trainer)
    backend.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(ValueError, match="must have ids 0..3, found \\[1, 0, 2, 3\\]"):
        load_tokenizer(tmp_path / "tokenizer.json")
    with pytest.raises(FileNotFoundError, match="no tokenizer"):
        load_tokenizer(tmp_path / "missing")


def test_training_is_deterministic_and_sized():
    a, b = train_tokenizer(TEXTS, vocab_size=300), train_tokenizer(TEXTS, vocab_size=300)
    assert a.backend_tokenizer.to_str() == b.backend_tokenizer.to_str()
    assert 260 < len(a) <= 300
    with pytest.raises(ValueError, match="vocab_size=100 is too small"):
        train_tokenizer(TEXTS, vocab_size=100)


def test_default_tokenizer_is_cached_and_reproducible(tmp_path, monkeypatch, tokenizer):
    monkeypatch.setenv("LM2_CACHE_DIR", str(tmp_path))
    built = default_tokenizer()
    assert list((tmp_path / "tokenizers").iterdir())[0].name.startswith("default-v")
    assert built.backend_tokenizer.to_str() == tokenizer.backend_tokenizer.to_str()
    assert default_tokenizer().backend_tokenizer.to_str() == tokenizer.backend_tokenizer.to_str()


def test_a_process_that_loses_the_cache_race_leaves_one_copy(tmp_path, monkeypatch, tokenizer):
    """Two processes (the suite's workers) may build the default tokenizer at once: the second to finish finds the
    first's copy in place, returns its own identical tokenizer and removes its temporary folder."""
    monkeypatch.setenv("LM2_CACHE_DIR", str(tmp_path))
    real, key = tokenizer_module.train_tokenizer, f"default-v{tokenizer_module._DEFAULT_VERSION}-{DEFAULT_VOCAB_SIZE}"

    def beaten(*args, **kwargs):
        built = real(*args, **kwargs)
        built.save_pretrained(str(tmp_path / "tokenizers" / key))
        return built

    monkeypatch.setattr(tokenizer_module, "train_tokenizer", beaten)
    built = default_tokenizer()
    assert built.backend_tokenizer.to_str() == tokenizer.backend_tokenizer.to_str()
    assert [p.name for p in (tmp_path / "tokenizers").iterdir()] == [key]


def test_babi_words_are_single_tokens(tokenizer):
    words = set()
    for task in GENERATED_TASKS:
        words |= babi_stats(generate_babi(task, 200)).vocabulary
    long = [w for w in sorted(words) if len(tokenizer.encode(" " + w)) != 1]
    assert long == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Zs", "Cc", "Cs")), min_size=1), min_size=1))
def test_counts_of_space_joined_pieces_add_up(tokenizer, pieces):
    """count(" ".join(pieces)) == count(pieces[0]) + sum(count(" " + p) for p in pieces[1:])."""
    joined = count_tokens(tokenizer, [" ".join(pieces)])[0]
    parts = count_tokens(tokenizer, [pieces[0]] + [" " + p for p in pieces[1:]])
    assert joined == sum(parts)
