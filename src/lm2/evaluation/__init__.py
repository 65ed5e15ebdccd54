"""Evaluation: answering BABILong questions with a model, scoring the answers, and reporting the scores
(`lm2 eval`, `lm2 compare`). See docs/evaluation.md."""

from lm2.evaluation.answers import accuracy, baseline_accuracies, generate_answers
from lm2.evaluation.report import compare, comparison_table, format_summary, mean_accuracy, plot_heatmaps
from lm2.evaluation.results import csv_name, load_results, read_csv
from lm2.evaluation.run import evaluate, is_finished, model_fingerprint, model_summary
from lm2.evaluation.sources import FolderSource, GeneratedSource, SampleSource

__all__ = [
    "FolderSource", "GeneratedSource", "SampleSource", "accuracy", "baseline_accuracies", "compare",
    "comparison_table", "csv_name", "evaluate", "format_summary", "generate_answers", "is_finished", "load_results",
    "mean_accuracy", "model_fingerprint", "model_summary", "plot_heatmaps", "read_csv",
]  # fmt: skip
