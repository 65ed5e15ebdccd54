"""Where bAbI samples come from (DESIGN §6): a local folder of the v1.2 files, the verified official archive,
or the offline generator — one entry point, `babi_samples`, for training, evaluation and `lm2 data`."""

from __future__ import annotations

from pathlib import Path

from lm2.data.babi.download import download_babi
from lm2.data.babi.generator import generate_babi, split_seed
from lm2.data.babi.parse import BabiSample, load_babi


def babi_samples(
    task: str, split: str = "test", source: str | Path | None = None, seed: int = 0, num_generated: int = 1000
) -> list[BabiSample]:
    """Samples of one task from a source: a folder of bAbI files, `"download"` (the verified official
    archive, downloaded into the cache once), `"generate"` (the offline generator, `num_generated`
    samples; train and test use different seeds) or None (the shared data folder, `<data dir>/babi`)."""
    if source == "generate":
        return generate_babi(task, num_generated, seed=split_seed(seed, split))
    if source == "download":
        source = download_babi()
    return load_babi(task, split, source)


def question_pool(task: str, split: str, source: str | Path | None, seed: int, samples: int) -> list[BabiSample]:
    """The questions that `samples` BABILong samples of `task` are drawn from (by `lm2 data babilong` and
    `lm2 eval` alike, so that both build the same sets): all of a file's, or twice `samples` (at least
    1,000) from the generator."""
    return babi_samples(task, split, source, seed=seed, num_generated=max(1000, 2 * samples))
