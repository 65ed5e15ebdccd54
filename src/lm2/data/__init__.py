"""The data side of the benchmark: bAbI (parser, download, offline generator), background text,
BABILong samples and their on-disk layout, the tokenizer, the metric and shortcut baselines.
See docs/data.md."""

from lm2.data.babi import (
    SPLITS,
    TASKS,
    BabiSample,
    babi_samples,
    find_babi_file,
    load_babi,
    parse_babi,
    parse_tasks,
    question_pool,
    read_babi_file,
    supporting_facts,
    task_file_name,
    task_id,
)
from lm2.data.babi_download import BABI_SHA256, BABI_URL, download_babi
from lm2.data.babi_generator import GENERATED_TASKS, generate_babi, generate_babi_lines, write_babi_dir
from lm2.data.babi_stats import BabiStats, babi_stats, compare_stats
from lm2.data.babilong import (
    LENGTHS,
    BabilongSample,
    build_babilong,
    build_sample,
    encode_sample,
    iter_babilong,
    length_name,
    list_babilong,
    load_babilong,
    load_babilong_hub,
    parse_length,
    parse_lengths,
    save_babilong,
)
from lm2.data.haystack import (
    Haystack,
    folder_haystack,
    pg19_haystack,
    prose_haystack,
    split_sentences,
    texts_haystack,
)
from lm2.data.metric import MODES, TASK_LABELS, chance_level, compare_answers, task_labels
from lm2.data.paths import cache_dir, data_dir
from lm2.data.prose import prose_sentences
from lm2.data.shortcuts import SHORTCUTS, majority_answer, shortcut_answers
from lm2.data.tokenizer import (
    ANSWER_ID,
    ANSWER_TOKEN,
    BOS_ID,
    BOS_TOKEN,
    DEFAULT_VOCAB_SIZE,
    EOS_ID,
    EOS_TOKEN,
    PAD_ID,
    PAD_TOKEN,
    SPECIAL_TOKENS,
    count_tokens,
    default_tokenizer,
    load_tokenizer,
    train_tokenizer,
)

__all__ = [
    "ANSWER_ID", "ANSWER_TOKEN", "BABI_SHA256", "BABI_URL", "BOS_ID", "BOS_TOKEN", "DEFAULT_VOCAB_SIZE",
    "EOS_ID", "EOS_TOKEN", "GENERATED_TASKS", "LENGTHS", "MODES", "PAD_ID", "PAD_TOKEN", "SHORTCUTS",
    "SPECIAL_TOKENS", "SPLITS", "TASK_LABELS", "TASKS", "babi_samples", "question_pool", "babi_stats", "BabilongSample",
    "BabiSample", "BabiStats", "build_babilong", "build_sample", "cache_dir", "chance_level",
    "compare_answers", "compare_stats", "count_tokens", "data_dir", "default_tokenizer", "download_babi",
    "encode_sample", "find_babi_file", "folder_haystack", "generate_babi", "generate_babi_lines",
    "Haystack", "iter_babilong", "length_name", "list_babilong", "load_babi", "load_babilong",
    "load_babilong_hub", "load_tokenizer", "majority_answer", "parse_babi", "parse_length", "parse_lengths",
    "parse_tasks", "pg19_haystack", "prose_haystack", "prose_sentences", "read_babi_file", "save_babilong",
    "shortcut_answers", "split_sentences", "supporting_facts", "task_file_name", "task_id", "task_labels",
    "texts_haystack", "train_tokenizer", "write_babi_dir",
]  # fmt: skip
