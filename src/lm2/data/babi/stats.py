"""Summary statistics of a set of bAbI samples, and the comparison that holds the offline generator to
the real files.

Statistics: vocabulary (words of facts and questions), label set (answer items; list answers split at
commas except qa19 paths), answer distribution, facts per question, supporting facts per question and
supporting-fact distance (how many facts back the earliest supporting fact is, 1 = the last fact).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from lm2.data.babi.parse import BabiSample

_WORD = re.compile(r"[A-Za-z]+")

# The tolerances `compare_stats` applies (documented in docs/data.md).
MAX_ANSWER_TV = 0.10  # total-variation distance between answer distributions
MAX_MEAN_REL_DIFF = 0.20  # relative difference of the means (facts, supports, distance)


@dataclass(frozen=True)
class BabiStats:
    num_samples: int
    vocabulary: frozenset[str]
    labels: frozenset[str]
    answers: dict[str, float]  # answer -> frequency
    facts_mean: float
    supports_mean: float
    distance_mean: float


def babi_stats(samples: Sequence[BabiSample]) -> BabiStats:
    """Statistics of `samples` (all of one task)."""
    if not samples:
        raise ValueError("babi_stats needs at least one sample")
    words: set[str] = set()
    for sample in samples:
        words.update(_WORD.findall(sample.question))
        for fact in sample.facts:
            words.update(_WORD.findall(fact))
    answers = Counter(sample.answer for sample in samples)
    labels = set()
    for answer in answers:
        labels.update([answer] if samples[0].task == "qa19" else answer.split(","))
    distances = [len(s.facts) - min(s.supporting) for s in samples if s.supporting]
    return BabiStats(
        num_samples=len(samples),
        vocabulary=frozenset(words),
        labels=frozenset(labels),
        answers={answer: count / len(samples) for answer, count in answers.items()},
        facts_mean=statistics.fmean(len(s.facts) for s in samples),
        supports_mean=statistics.fmean(len(s.supporting) for s in samples),
        distance_mean=statistics.fmean(distances) if distances else 0.0,
    )


def answer_tv(a: BabiStats, b: BabiStats) -> float:
    """Total-variation distance between two answer distributions (0 = equal, 1 = disjoint)."""
    keys = set(a.answers) | set(b.answers)
    return 0.5 * sum(abs(a.answers.get(k, 0.0) - b.answers.get(k, 0.0)) for k in keys)


def compare_stats(generated: BabiStats, real: BabiStats) -> list[str]:
    """The ways `generated` disagrees with `real` beyond the tolerances; empty when they agree."""
    problems = []
    if generated.vocabulary != real.vocabulary:
        problems.append(
            f"vocabulary: missing {sorted(real.vocabulary - generated.vocabulary)}, "
            f"extra {sorted(generated.vocabulary - real.vocabulary)}"
        )
    if generated.labels != real.labels:
        problems.append(f"labels: generated {sorted(generated.labels)} vs real {sorted(real.labels)}")
    tv = answer_tv(generated, real)
    if tv > MAX_ANSWER_TV:
        problems.append(f"answer distribution: total variation {tv:.3f} > {MAX_ANSWER_TV}")
    for name in ("facts_mean", "supports_mean", "distance_mean"):
        g, r = getattr(generated, name), getattr(real, name)
        if abs(g - r) > MAX_MEAN_REL_DIFF * r:
            problems.append(f"{name}: generated {g:.2f} vs real {r:.2f} (more than {MAX_MEAN_REL_DIFF:.0%} apart)")
    return problems
