"""Background text: sentence splitting, sources, and the sampler (random start, no reuse, clear errors)."""

from __future__ import annotations

import random

import pytest

from lm2.data import (
    folder_haystack,
    haystack_spec,
    load_haystack,
    pg19_haystack,
    prose_haystack,
    split_sentences,
    texts_haystack,
)
from lm2.data.haystack import strip_gutenberg


def _words(texts):
    return [len(t.split()) for t in texts]


def test_split_sentences_respects_abbreviations_quotes_and_paragraphs():
    text = (
        'Mr. Pell met Dr. Q. Nambo at St. Ivo\'s on a wet day.  He said "Good morning, my dear fellow!" '
        "Then the two of them walked away.\r\nIt was late when they came back home again.\n\n"
        "CHAPTER IV.\n\nShort one. 'Yes,' she said, 'we all know that perfectly well.'"
    )
    assert split_sentences(text) == [
        "Mr. Pell met Dr. Q. Nambo at St. Ivo's on a wet day.",
        'He said "Good morning, my dear fellow!"',
        "Then the two of them walked away.",  # the lines of a paragraph are joined, then split
        "It was late when they came back home again.",
        "'Yes,' she said, 'we all know that perfectly well.'",  # "CHAPTER IV." and "Short one." dropped
    ]


def test_gutenberg_header_and_footer_are_removed():
    text = "Title\n*** START OF X ***\nThe story.\n*** END OF X ***\nLicense"
    assert strip_gutenberg(text).strip() == "The story."
    assert strip_gutenberg("Just a book.") == "Just a book."


def _numbered(n_docs: int, n_sentences: int) -> list[str]:
    return [
        " ".join(f"Document {d} has its sentence number {i} right here." for i in range(n_sentences))
        for d in range(n_docs)
    ]


def _count(texts):
    return [len(t.split()) for t in texts]  # one "token" per word keeps the arithmetic visible


def test_sample_reaches_the_budget_without_reusing_text():
    haystack = texts_haystack(_numbered(3, 10))
    chosen = haystack.sample(random.Random(0), 25, _count)
    assert sum(n for _, n in chosen) >= 25 > sum(n for _, n in chosen[:-1])
    everything = haystack.sample(random.Random(1), 3 * 10 * 9, _count)
    assert len(everything) == 30 and len({s for s, _ in everything}) == 30  # all text, each once
    with pytest.raises(ValueError, match=r"holds only 270 tokens .* needs 271: use a larger haystack"):
        haystack.sample(random.Random(2), 271, _count)


def test_sample_starts_at_a_random_document_and_sentence_and_reads_on():
    haystack = texts_haystack(_numbered(4, 50))
    starts = set()
    for seed in range(20):
        chosen = haystack.sample(random.Random(seed), 40, _count)
        words = [s.split() for s, _ in chosen]  # "Document D has its sentence number I right here."
        doc, first = words[0][1], int(words[0][6])
        starts.add((doc, first))
        numbers = [int(w[6]) for w in words if w[1] == doc]
        assert numbers == list(range(first, first + len(numbers)))  # consecutive sentences
    assert len(starts) > 10
    assert haystack.sample(random.Random(7), 40, _count) == haystack.sample(random.Random(7), 40, _count)


def test_folder_haystack(tmp_path):
    (tmp_path / "b.txt").write_text("\ufeffThe second book begins with a long sentence.\r\nAnd then it goes on and on.")
    (tmp_path / "a.txt").write_text("*** START OF X ***\nThe first book has exactly one real sentence.\n*** END OF X")
    (tmp_path / "notes.md").write_text("Not a book at all, whatever it may say here.")
    haystack = folder_haystack(tmp_path)
    assert haystack.num_documents == 2
    assert haystack.document(0) == ["The first book has exactly one real sentence."]
    assert haystack.document(1) == [
        "The second book begins with a long sentence.",
        "And then it goes on and on.",
    ]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no .txt files"):
        folder_haystack(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="haystack folder not found"):
        folder_haystack(tmp_path / "missing")


def test_pg19_from_a_local_copy(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = {"text": [" ".join(_numbered(1, 5)), "Another book, with one sentence that is long enough."]}
    datasets.DatasetDict({"test": datasets.Dataset.from_dict(rows)}).save_to_disk(str(tmp_path / "pg19"))
    haystack = pg19_haystack("test", path=tmp_path / "pg19")
    assert haystack.num_documents == 2 and len(haystack.document(0)) == 5
    with pytest.raises(ValueError, match="has no split 'train'"):
        pg19_haystack("train", path=tmp_path / "pg19")


def test_load_haystack_reads_every_spec_the_commands_accept(tmp_path, monkeypatch):
    """One reader of `data.haystack` / `--haystack` / `--pg19` for training, evaluation and `lm2 data`."""
    assert load_haystack(None) is None  # training without background text
    assert load_haystack("prose", seed=3).document(0) == prose_haystack(seed=3).document(0)
    (tmp_path / "books").mkdir()
    (tmp_path / "books" / "a.txt").write_text("The only book here has one sentence in it.")
    assert load_haystack(tmp_path / "books").document(0) == ["The only book here has one sentence in it."]
    monkeypatch.chdir(tmp_path)
    assert haystack_spec("books") == str(tmp_path / "books") and haystack_spec("pg19:x") == "pg19:x"
    with pytest.raises(FileNotFoundError, match="haystack folder not found: nowhere"):
        haystack_spec("nowhere")
    datasets = pytest.importorskip("datasets")
    rows = {"text": ["A saved book, with one sentence that is long enough."]}
    datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows)}).save_to_disk(str(tmp_path / "pg19"))
    assert load_haystack(f"pg19:{tmp_path / 'pg19'}", split="train").num_documents == 1
    with pytest.raises(ValueError, match="has no split 'test'"):  # evaluation reads the test split
        load_haystack(f"pg19:{tmp_path / 'pg19'}")


def test_prose_haystack_is_deterministic_and_large():
    a, b = prose_haystack(seed=1), prose_haystack(seed=1)
    assert a.document(3) == b.document(3) and a.document(3) != a.document(4)
    assert a.num_documents * len(a.document(0)) >= 500_000  # sentences: millions of tokens


def test_real_books_split_into_plausible_sentences(real_books):
    haystack = folder_haystack(real_books)
    sentences = haystack.document(0)
    assert len(sentences) > 1000
    assert all(6 <= n <= 250 for n in _words(sentences))
    assert not any("Project Gutenberg" in s for s in sentences)
