"""bAbI v1.2: the task names and file parser (`parse`), the verified download (`download`), the offline
generator (`generator` for qa1-qa10, `generator_more` for qa11-qa20, on the simulated `world`), the one
entry point over those three sources (`sources`) and the statistics that hold the generator to the real files
(`stats`). See docs/data.md."""

from lm2.data.babi.download import BABI_SHA256, BABI_URL, download_babi
from lm2.data.babi.generator import GENERATED_TASKS, generate_babi, generate_babi_lines, write_babi_dir
from lm2.data.babi.parse import (
    SPLITS,
    TASKS,
    BabiSample,
    find_babi_file,
    load_babi,
    parse_babi,
    parse_tasks,
    read_babi_file,
    supporting_facts,
    task_file_name,
    task_id,
)
from lm2.data.babi.sources import babi_samples, question_pool
from lm2.data.babi.stats import BabiStats, babi_stats, compare_stats

__all__ = [
    "BABI_SHA256", "BABI_URL", "GENERATED_TASKS", "SPLITS", "TASKS", "BabiSample", "BabiStats", "babi_samples",
    "babi_stats", "compare_stats", "download_babi", "find_babi_file", "generate_babi", "generate_babi_lines",
    "load_babi", "parse_babi", "parse_tasks", "question_pool", "read_babi_file", "supporting_facts",
    "task_file_name", "task_id", "write_babi_dir",
]  # fmt: skip
