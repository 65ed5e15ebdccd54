"""`ShardStream` and `lm2 train` on shards: batches are a pure function of (seed, step, index); two gloo
processes read disjoint windows that together are the one-process batch; a killed run resumes at the exact
data position; `reset` marks the document starts; held-out windows are never trained on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lm2.data import load_tokenizer, prose_sentences, train_tokenizer
from lm2.data.corpus import CorpusSource
from lm2.data.pretokenize import tokenize_corpus
from lm2.data.shards import read_manifest, write_manifest
from lm2.training.data import IGNORE
from lm2.training.shards import ShardStream
from lm2.training.trainer import Trainer
from tests.training.conftest import tiny_config, to_argv
from tests.training.test_training_distributed import free_port, losses

LENGTH = 48


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    """About 14k tokens of generated prose in documents of 1-12 sentences, several shards (seconds)."""
    from lm2.data import default_tokenizer

    root = tmp_path_factory.mktemp("corpus")
    sentences = prose_sentences(600, seed=0)
    documents, i = [], 0
    while i < len(sentences):
        size = 1 + (i * 7) % 12
        documents.append(" ".join(sentences[i : i + size]))
        i += size
    (root / "c.jsonl").write_text("".join(json.dumps({"text": d}) + "\n" for d in documents))
    tokenize_corpus(CorpusSource(str(root / "c.jsonl")), root / "shards", default_tokenizer(), shard_tokens=4000)
    return root / "shards"


def stream(shards: Path, **kw) -> ShardStream:
    options = {"sequence_length": LENGTH, "seed": 0, "batch_size": 8, **kw}
    return ShardStream(str(shards), load_tokenizer(shards / "tokenizer"), **options)


def lm_config(out, shards: Path, **sections):
    data = {"task": "lm", "shards": str(shards), "tokenizer": str(shards / "tokenizer"), "sequence_length": LENGTH,
            "validation_windows": 4, **sections.pop("data", {})}  # fmt: skip
    return tiny_config(out, data=data, model={"segment_length": 16, **sections.pop("model", {})}, **sections)


def test_batches_are_a_pure_function_of_step_and_index(shards):
    a, b = stream(shards), stream(shards)
    whole = a.batch(5, range(8))
    parts = [b.batch(5, range(0, 3)), b.batch(5, range(3, 8))]
    assert torch.equal(whole.input_ids, torch.cat([p.input_ids for p in parts]))
    assert not torch.equal(whole.input_ids, a.batch(6, range(8)).input_ids)
    assert whole.input_ids.shape == (8, LENGTH) and whole.starts is None and torch.equal(whole.labels, whole.input_ids)
    places = [a.window(g) for g in range(400)]
    assert sorted(places[: a.sizes[0]]) == [(0, w) for w in range(a.sizes[0])]  # one epoch: every window once
    assert all(w < a.sizes[0] for _, w in places)  # the held-out windows are never trained on


def test_reset_marks_document_starts_and_leaves_their_first_token_unscored(shards):
    tokenizer = load_tokenizer(shards / "tokenizer")
    batch = stream(shards, documents="reset").batch(0, range(8))
    assert batch.starts.any()
    for row in range(8):
        columns = torch.nonzero(batch.starts[row]).flatten()
        assert (batch.input_ids[row, columns - 1] == tokenizer.eos_token_id).all()  # a start follows a </s>
        assert (batch.labels[row, columns] == IGNORE).all()
        unscored = batch.labels[row] == IGNORE
        assert torch.equal(unscored, batch.starts[row])


def test_a_stream_from_another_tokenizer_is_refused(shards):
    other = train_tokenizer(["a few words to train on"] * 20, vocab_size=300)
    with pytest.raises(ValueError, match="was tokenized with tokenizer"):
        ShardStream(str(shards), other, LENGTH, 0, 8)
    with pytest.raises(ValueError, match="not more than data.validation_windows"):
        stream(shards, validation_windows=10_000)


def test_a_killed_run_resumes_at_the_exact_data_position(shards, tmp_path):
    run = {"steps": 6, "save_every": 3, "eval_every": 3}
    Trainer(lm_config(tmp_path / "whole", shards, run=run, data={"documents": "reset"})).fit()

    config = lm_config(tmp_path / "killed", shards, run=run, data={"documents": "reset"})
    with pytest.raises(Killed):
        Trainer(config, on_step=kill_at(4)).fit()  # after the step-3 checkpoint
    resumed = Trainer(lm_config(tmp_path / "killed", shards, run=run, data={"documents": "reset"}))
    assert resumed.step == 3
    resumed.fit()
    assert losses(tmp_path / "killed") == pytest.approx(losses(tmp_path / "whole"), rel=1e-5, abs=1e-6)
    whole, killed = (load_file(tmp_path / name / "model" / "model.safetensors") for name in ("whole", "killed"))
    for name in whole:
        torch.testing.assert_close(killed[name], whole[name], rtol=1e-5, atol=1e-6)


class Killed(Exception):
    pass


def kill_at(stop: int):
    def on_step(step: int, loss: float) -> None:
        if step == stop:
            raise Killed  # after the previous step's checkpoint, before this step's

    return on_step


def test_resuming_on_changed_shard_contents_is_refused(shards, tmp_path):
    run = {"steps": 3, "save_every": 1}
    with pytest.raises(Killed):
        Trainer(lm_config(tmp_path / "run", shards, run=run), on_step=kill_at(2)).fit()
    manifest = read_manifest(shards)
    try:
        write_manifest(shards, manifest | {"tokens": manifest["tokens"] + 1})  # the same path, other contents
        with pytest.raises(ValueError, match="trained on other data"):
            Trainer(lm_config(tmp_path / "run", shards, run=run))
    finally:
        write_manifest(shards, manifest)


GATHER = """
import json, sys, torch.distributed as dist
from lm2.cli.train import parse_config
from lm2.training.trainer import Trainer
trainer = Trainer(parse_config(json.loads(open(sys.argv[1]).read())))
rows = []
for step in range(3):
    trainer.step = step
    rows.append([b.input_ids.tolist() for b in trainer._micro_batches()])
gathered = [None] * trainer.dist.world
dist.all_gather_object(gathered, rows)
if trainer.dist.main:
    open(sys.argv[2], "w").write(json.dumps(gathered))
"""


def test_two_gloo_processes_read_disjoint_windows_that_make_the_one_process_batch(shards, tmp_path):
    run = {"batch_size": 8, "accumulation": 2}
    one = Trainer(lm_config(tmp_path / "one", shards, run=run))
    script, config = tmp_path / "gather.py", tmp_path / "config.json"
    script.write_text(GATHER)
    config.write_text(json.dumps(to_argv(lm_config(tmp_path / "two", shards, run=run))))
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
              "--master_port", str(free_port()), str(script), str(config), str(tmp_path / "two.json")]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(launch, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = json.loads((tmp_path / "two.json").read_text())  # [rank][step][micro-batch] → rows of ids
    for step in range(3):
        one.step = step
        single = [row for micro in one._micro_batches() for row in micro.input_ids.tolist()]
        # rank r's micro-batch m holds global samples (2m + r) * 2 .. + 2: in index order, the one-process batch
        union = [row for m in range(2) for r in range(2) for row in ranks[r][step][m]]
        assert union == single
        mine = [{tuple(row) for micro in ranks[r][step] for row in micro} for r in range(2)]
        assert not mine[0] & mine[1] and len(mine[0]) == len(mine[1]) == 4


def test_two_processes_train_on_shards_like_one(shards, tmp_path):
    """DDP over gloo in `reset` mode (the training view runs each window in pieces) reproduces one process."""
    run = {"steps": 3, "batch_size": 4, "accumulation": 1, "save_every": 0}
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    argv = {w: to_argv(lm_config(tmp_path / str(w), shards, run=run, data={"documents": "reset"})) for w in (1, 2)}
    subprocess.run([sys.executable, "-m", "lm2.cli.main", "train", *argv[1]], check=True, env=env, capture_output=True)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
                "127.0.0.1", "--master_port", str(free_port()), "-m", "lm2.cli.main", "train"]  # fmt: skip
    done = subprocess.run([*launcher, *argv[2]], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    torch.testing.assert_close(torch.tensor(losses(tmp_path / "2")), torch.tensor(losses(tmp_path / "1")),
                               rtol=1e-5, atol=1e-5)  # fmt: skip
