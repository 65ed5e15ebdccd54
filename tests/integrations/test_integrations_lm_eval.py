"""The lm-eval adapter scores exactly what the model computes, at any context length, through lm-eval's
Python API and command line, offline (fixture tasks under fixtures/lm_eval_tasks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import torch

pytest.importorskip("lm_eval")

from lm_eval.api.instance import Instance  # noqa: E402
from lm_eval.api.registry import Registry  # noqa: E402

from lm2.integrations.lm_eval import LM2EvalLM  # noqa: E402
from tests.integrations.tiny_checkpoint import random_text, save_tiny_checkpoint, tiny_tokenizer  # noqa: E402

TASKS = Path(__file__).parent / "fixtures" / "lm_eval_tasks"


@pytest.fixture(scope="module", params=["lm2", "rmt"])
def checkpoint(request, tmp_path_factory):
    path = tmp_path_factory.mktemp(request.param)
    return path, save_tiny_checkpoint(path, request.param)


def own_logprob(model, context: str, continuation: str) -> tuple[float, bool]:
    """One full forward over context + continuation: the reference the adapter must reproduce."""
    tokenizer = tiny_tokenizer()
    whole = tokenizer.encode(context + continuation)
    n = len(tokenizer.encode(context))
    ids = torch.tensor([whole])
    with torch.no_grad():
        logprobs = model(ids).logits.log_softmax(-1)[0, n - 1 : -1]
    target = ids[0, n:]
    return logprobs.gather(-1, target[:, None]).sum().item(), bool((logprobs.argmax(-1) == target).all())


def test_loglikelihood_equals_the_models_own_log_probs(checkpoint):
    path, model = checkpoint
    lm = LM2EvalLM(pretrained=str(path), dtype="float64", batch_size=2, chunk_size=5)
    long_context = random_text(60, seed=4)  # ~ 30 segments of 8 tokens, streamed 5 tokens at a time
    pairs = [(long_context, c) for c in (" Mary moved.", " fox", " the old ship sailed")]
    pairs += [("Where", " is Mary?"), ("Mary went to the", " office")]
    results = lm.loglikelihood([Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)])
    for pair, (logprob, greedy) in zip(pairs, results, strict=True):
        expected, expected_greedy = own_logprob(model, *pair)
        assert logprob == pytest.approx(expected, abs=1e-9)
        assert greedy == expected_greedy


def test_greedy_flag_is_true_exactly_for_the_models_argmax_continuation(checkpoint):
    path, model = checkpoint
    lm = LM2EvalLM(pretrained=str(path), dtype="float64", chunk_size=3)
    ids = tiny_tokenizer().encode(random_text(12, seed=7))
    out = model.generate(torch.tensor([ids]), max_new_tokens=4, do_sample=False)[0, len(ids) :].tolist()
    other = [*out[:-1], (out[-1] + 1) % model.config.vocab_size]
    requests = [(("", ""), ids, out), (("", ""), ids, other)]
    assert [greedy for _, greedy in lm._loglikelihood_tokens(requests)] == [True, False]


def test_rolling_loglikelihood_scores_every_token_with_its_whole_history(checkpoint):
    path, model = checkpoint
    lm = LM2EvalLM(pretrained=str(path), dtype="float64", chunk_size=7)
    text = random_text(40, seed=5)
    (total,) = lm.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, (text,), 0)])
    tokens = tiny_tokenizer().encode(text)
    ids = torch.tensor([[lm.prefix_token_id, *tokens]])
    with torch.no_grad():
        logprobs = model(ids[:, :-1]).logits.log_softmax(-1)
    assert total == pytest.approx(logprobs.gather(-1, ids[:, 1:, None]).sum().item(), abs=1e-9)


def test_generate_until_is_greedy_generation_cut_at_the_stop_string(checkpoint):
    path, model = checkpoint
    lm = LM2EvalLM(pretrained=str(path), dtype="float64", chunk_size=6)
    context = random_text(30, seed=6)
    options = {"until": ["e"], "max_gen_toks": 12, "do_sample": False}
    (text,) = lm.generate_until([Instance("generate_until", {}, (context, options), 0)])
    ids = tiny_tokenizer().encode(context)
    out = model.generate(torch.tensor([ids]), max_new_tokens=12, do_sample=False)
    expected = tiny_tokenizer().decode(out[0, len(ids) :], skip_special_tokens=True).split("e")[0]
    assert text == expected


def test_simple_evaluate_runs_every_request_type_offline(tmp_path, monkeypatch):
    import datasets
    import lm_eval
    from lm_eval.tasks import TaskManager

    import lm2.integrations.lm_eval  # noqa: F401  (registers the model name)

    path = tmp_path / "model"
    model = save_tiny_checkpoint(path, "lm2")
    monkeypatch.chdir(TASKS)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets")
    out = lm_eval.simple_evaluate(
        model="lm2",
        model_args={"pretrained": str(path), "dtype": "float64"},
        tasks=["lm2_tiny_choice", "lm2_tiny_generate", "lm2_tiny_rolling"],
        task_manager=TaskManager(include_path=str(TASKS), include_defaults=False),
        log_samples=True,
    )
    assert set(out["results"]) == {"lm2_tiny_choice", "lm2_tiny_generate", "lm2_tiny_rolling"}
    for sample in out["samples"]["lm2_tiny_choice"]:
        for (context, continuation), (logprob, _) in zip(sample["arguments"], sample["filtered_resps"], strict=True):
            assert logprob == pytest.approx(own_logprob(model, context, continuation)[0], abs=1e-9)
    assert all(isinstance(s["resps"][0][0], str) for s in out["samples"]["lm2_tiny_generate"])


def test_lm_eval_command_line_runs_the_lm2_model(tmp_path):
    path = tmp_path / "model"
    save_tiny_checkpoint(path, "lm2")
    env = {
        **os.environ,
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_CACHE": str(tmp_path / "datasets"),
        "OMP_NUM_THREADS": "1",
    }
    command = [sys.executable, "-m", "lm2.integrations.lm_eval", "--model", "lm2"]
    command += ["--model_args", f"pretrained={path},dtype=float64", "--tasks", "lm2_tiny_choice"]
    command += ["--include_path", str(TASKS), "--output_path", str(tmp_path / "results"), "--limit", "2"]
    done = subprocess.run(command, cwd=TASKS, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    (results_file,) = (tmp_path / "results").rglob("results_*.json")
    results = json.loads(results_file.read_text())["results"]["lm2_tiny_choice"]
    assert 0 <= results["acc,none"] <= 1


def test_entry_point_resolves_to_the_adapter_through_an_lm_eval_registry():
    """What lm-eval's plugin discovery does with the `lm_eval.models` entry point of `pip install lm2`."""
    (point,) = [p for p in entry_points(group="lm_eval.models") if p.name == "lm2"]
    registry = Registry("model")
    registry.register("lm2", target=point)
    assert registry.get("lm2") is LM2EvalLM


def test_wrong_model_args_and_checkpoints_are_named(tmp_path):
    path = tmp_path / "model"
    save_tiny_checkpoint(path, "lm2")
    with pytest.raises(ValueError, match="batchsize"):
        LM2EvalLM(pretrained=str(path), batchsize=4)
    with pytest.raises(ValueError, match="batch_size='many'"):
        LM2EvalLM(pretrained=str(path), batch_size="many")
    (path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(ValueError, match="lm2 convert"):
        LM2EvalLM(pretrained=str(path))
