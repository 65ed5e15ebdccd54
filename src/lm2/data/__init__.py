"""The data side of the benchmark: bAbI (parser, download, offline generator), background text,
BABILong samples and their on-disk layout, the tokenizer, the metric and shortcut baselines.
See docs/data.md."""

from lm2.data.babi import (
    BABI_SHA256,
    BABI_URL,
    GENERATED_TASKS,
    SPLITS,
    TASKS,
    BabiSample,
    BabiStats,
    babi_samples,
    babi_stats,
    compare_stats,
    download_babi,
    find_babi_file,
    generate_babi,
    generate_babi_lines,
    load_babi,
    parse_babi,
    parse_tasks,
    question_pool,
    read_babi_file,
    supporting_facts,
    task_file_name,
    task_id,
    write_babi_dir,
)
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
    haystack_spec,
    load_haystack,
    pg19_haystack,
    prose_haystack,
    split_sentences,
    texts_haystack,
)
from lm2.data.metric import MODES, TASK_LABELS, chance_level, compare_answers, task_labels
from lm2.data.paths import cache_dir, data_dir
from lm2.data.prose import prose_sentences
from lm2.data.shortcuts import SHORTCUTS, latest_places, majority_answer, shortcut_answers, story_last_label
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
    "ANSWER_ID", "ANSWER_TOKEN", "babi_samples", "BABI_SHA256", "babi_stats", "BABI_URL", "BabilongSample",
    "BabiSample", "BabiStats", "BOS_ID", "BOS_TOKEN", "build_babilong", "build_sample", "cache_dir", "chance_level",
    "compare_answers", "compare_stats", "count_tokens", "data_dir", "default_tokenizer", "DEFAULT_VOCAB_SIZE",
    "download_babi", "encode_sample", "EOS_ID", "EOS_TOKEN", "find_babi_file", "folder_haystack", "generate_babi",
    "generate_babi_lines", "GENERATED_TASKS", "Haystack", "haystack_spec", "iter_babilong", "length_name",
    "latest_places", "LENGTHS", "list_babilong", "load_babi", "load_babilong", "load_babilong_hub", "load_haystack",
    "load_tokenizer", "majority_answer", "MODES", "PAD_ID", "PAD_TOKEN", "parse_babi", "parse_length",
    "parse_lengths", "parse_tasks", "pg19_haystack", "prose_haystack", "prose_sentences", "question_pool",
    "read_babi_file", "save_babilong", "shortcut_answers", "SHORTCUTS", "SPECIAL_TOKENS", "split_sentences",
    "SPLITS", "story_last_label", "supporting_facts", "task_file_name", "task_id", "TASK_LABELS", "task_labels",
    "TASKS", "texts_haystack", "train_tokenizer", "write_babi_dir",
]  # fmt: skip
