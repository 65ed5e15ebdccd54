"""`lm2 eval` end to end on a tiny randomly initialised saved model, through the command-line entry point,
and the messages it gives for bad input."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from lm2.cli.main import main
from lm2.evaluation import load_results, read_csv


def test_eval_on_a_babilong_folder_writes_the_layout_and_prints_the_baselines(model_dir, data_dir, tmp_path, capsys):
    out = tmp_path / "eval"
    argv = ["eval", str(model_dir), "--data", str(data_dir), "--out", str(out), "--batch-size", "2", "--threads", "1"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "metric: fixed" in printed
    header = next(line for line in printed.splitlines() if line.startswith("task"))
    assert header.split() == ["task", "length", "samples", "model", "chance", "last_label", "last_mention",
                              "majority", "seconds"]  # fmt: skip
    assert re.search(r"^qa1\s+0k\s+4\s+\d+\.\d%\s+16\.7%", printed, flags=re.M)  # qa1 chance: 1 of 6 locations
    results = load_results(out)
    assert results["accuracy"].keys() == {"qa1", "qa2"} and results["lengths"] == ["0k", "60"]
    assert results["model"]["path"] == str(model_dir.resolve()) and results["model"]["config"]["arch"] == "lm2"
    assert results["model"]["parameters"] > 0 and results["versions"]["torch"] and results["metric"] == "fixed"
    assert results["data"] == {"source": "folder", "path": str(data_dir.resolve()), "samples": None}
    assert results["wall_seconds"] > 0 and all(r["seconds"] >= 0 for c in results["cells"].values() for r in c.values())
    for task in ("qa1", "qa2"):
        for length in ("0k", "60"):
            rows = read_csv(out / f"{task}_{length}_instruction_no_examples_no_post_prompt_no.csv")
            assert len(rows) == 4
    assert (out / "heatmap.png").is_file()
    # the same command again: nothing is recomputed, the results are unchanged
    before = (out / "results.json").read_text()
    assert main(argv) == 0
    again = json.loads((out / "results.json").read_text())
    assert again["cells"] == json.loads(before)["cells"] and len(again["sessions"]) == 2
    assert again["sessions"][1]["cells"] == []


def test_eval_with_a_generation_spec(model_dir, tmp_path, capsys):
    out = tmp_path / "eval"
    argv = ["eval", str(model_dir), "--out", str(out), "--generate", "--tasks", "qa1", "--lengths", "0k,100"]
    assert main([*argv, "--samples", "3", "--seed", "1", "--metric", "official", "--max-new-tokens", "4"]) == 0
    results = load_results(out)
    assert results["metric"] == "official" and "metric: official" in capsys.readouterr().out
    assert results["identity"]["max_new_tokens"] == 4 and results["seed"] == 1
    assert results["data"]["source"] == "generated" and results["data"]["babi"] == "generate"
    assert results["data"]["haystack"] == "prose" and results["data"]["split"] == "test"
    assert results["cells"]["qa1"]["100"]["prompt_tokens"]["min"] > 100
    # `--babi generate` (the spelling `lm2 ablate` takes) is the same evaluation as --generate: the run resumes it.
    spelled = [*argv[:4], "--babi", "generate", *argv[5:]]
    assert main([*spelled, "--samples", "3", "--seed", "1", "--metric", "official", "--max-new-tokens", "4"]) == 0
    assert load_results(out)["cells"] == results["cells"] and len(load_results(out)["sessions"]) == 2


@pytest.fixture
def no_tokenizer_dir(model_dir, tmp_path):
    path = tmp_path / "weights-only"
    path.mkdir()
    for name in ("config.json", "model.safetensors", "generation_config.json"):
        if (model_dir / name).exists():
            shutil.copy(model_dir / name, path / name)
    return path


@pytest.mark.parametrize(
    "args, message",
    [
        (["MODEL", "--data", "DATA/missing"], "data folder not found: .*missing"),
        (["MISSING_MODEL", "--data", "DATA"], "model folder not found: .*nowhere"),
        (["NO_TOKENIZER", "--data", "DATA"], "no tokenizer in .*weights-only"),
        (["MODEL", "--data", "DATA", "--tasks", "qa99"], "unknown bAbI task 'qa99'; allowed: qa1, qa2"),
        (["MODEL", "--data", "DATA", "--tasks", "qa3"], "task qa3 not in .*; tasks present: qa1, qa2"),
        (["MODEL", "--data", "DATA", "--lengths", "4q"], "unknown length '4q'; allowed: 0k, 1k"),
        (["MODEL", "--data", "DATA", "--lengths", "8k"], "has no 8k.json; lengths present for qa1: 0k, 60"),
        (["MODEL", "--data", "EMPTY"], "holds no samples"),
        (["MODEL", "--data", "DATA", "--generate"], "--data reads the samples from a folder; --generate only"),
        (["MODEL", "--data", "DATA", "--every-person"], "--data reads the samples from a folder; --every-person only"),
        (["MODEL", "--generate", "--tasks", "qa2", "--every-person"], "every_person asks every person of a qa1 story"),
        (["MODEL", "--data", "DATA", "--batch-size", "0"], "--batch-size=0 must be at least 1"),
        (["MODEL", "--generate", "--samples", "0"], "--samples=0 must be at least 1"),
        (["MODEL", "--generate", "--haystack", "nowhere"], "haystack folder not found: nowhere"),
        (["MODEL", "--babi", "nowhere"], "bAbI folder not found: .*nowhere"),
        (["MODEL", "--data", "DATA", "--metric", "exact"], None),  # argparse: invalid choice
    ],
)
def test_bad_input_is_named(args, message, model_dir, data_dir, no_tokenizer_dir, tmp_path, caplog, capsys):
    empty = tmp_path / "empty"
    (empty / "qa1").mkdir(parents=True)
    (empty / "qa1" / "0k.json").write_text("[]\n")
    where = {"MODEL": model_dir, "MISSING_MODEL": tmp_path / "nowhere", "NO_TOKENIZER": no_tokenizer_dir,
             "DATA": data_dir, "EMPTY": empty}  # fmt: skip
    argv = ["eval", *(str(where[a]) if a in where else a for a in args[:1])]
    argv += [re.sub(r"^(DATA|EMPTY)", lambda m: str(where[m.group(1)]), a) for a in args[1:]]
    if message is None:
        with pytest.raises(SystemExit):
            main([*argv, "--out", str(tmp_path / "out")])
        assert "invalid choice: 'exact'" in capsys.readouterr().err
        return
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert any(re.search(message, r.getMessage()) for r in caplog.records), [r.getMessage() for r in caplog.records]
    assert not (tmp_path / "out" / "results.json").exists()
