"""What every subcommand shares: bad input ends with one line `lm2 <command>: ...` and exit code 2, never a
traceback; the help shows defaults; the shared options."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys

import pytest
import torch

import lm2
from lm2.cli.common import (
    COMMANDS,
    EXIT_INTERRUPTED,
    HelpFormatter,
    UsageError,
    check_at_least_one,
    parse_indices,
    resumable,
)
from lm2.cli.main import main
from lm2.device import resolve_device
from tests.integrations.tiny_checkpoint import save_tiny_checkpoint


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--models", "lm2,gpt"], "lm2 demo: --models='lm2,gpt' has unknown names ['gpt']; choose from"),
        (["recall", "--models", ""], "lm2 recall: --models='' names no model; choose from lm2, "),
        (["bench", "overhead", "--models", "lm3"], "lm2 bench overhead: --models='lm3' has unknown names ['lm3']"),
        (["bench", "length", "--lengths", "4x"], "lm2 bench length: --lengths='4x': '4x' is not an integer"),
        (["compare", "nowhere.json", "--out", "OUT"], "lm2 compare: "),
        (["generate", "--model", "nowhere", "--prompt", "x", "--top-p", "2"], "lm2 generate: --top-p=2.0 must be in"),
        (["data", "babilong", "--out", "OUT", "--tasks", "qa42"], "lm2 data babilong: "),
        (["data", "list", "OUT"], "lm2 data list: no qaN/<length>.json files under"),
        (["train", "--model.hidden_size", "big"], "lm2 train: model.hidden_size=big has the wrong type; allowed: int"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(argv, message, tmp_path, caplog):
    argv = [str(tmp_path / "out") if word == "OUT" else word for word in argv]
    with caplog.at_level(logging.INFO):
        assert main(argv) == 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and not errors[0].exc_info, [r.getMessage() for r in errors]
    assert errors[0].getMessage().startswith(message) and "\n" not in errors[0].getMessage()


def test_verbose_adds_the_traceback(caplog):
    assert main(["-v", "demo", "--models", "gpt"]) == 2
    assert caplog.records[-1].exc_info


def test_a_group_without_its_subcommand_prints_its_help(capsys):
    assert main(["bench"]) == 2
    assert "overhead" in capsys.readouterr().out


def test_help_shows_defaults_unless_empty_or_already_stated():
    parser = argparse.ArgumentParser(formatter_class=HelpFormatter, description="one line")
    parser.add_argument("--steps", type=int, default=800, help="training steps")
    parser.add_argument("--chunk", type=int, default=64, help="tokens per chunk (default 64)")
    parser.add_argument("--plot", help="a picture")
    parser.add_argument("--quick", action="store_true", help="smoke run")
    text = " ".join(parser.format_help().split())
    assert "training steps (default: 800)" in text and "(default 64) (default" not in text
    assert "a picture (default" not in text and "smoke run (default" not in text


def test_shared_checks_name_the_option():
    with pytest.raises(UsageError, match="--max-new-tokens=0 must be at least 1"):
        check_at_least_one(argparse.Namespace(max_new_tokens=0, threads=None), "threads", "max_new_tokens")
    assert parse_indices("0,2", "--blocks") == [0, 2] and parse_indices(None, "--blocks") is None
    with pytest.raises(UsageError, match="--blocks='a' must be block indices like 0,1,2"):
        parse_indices("a", "--blocks")


def test_ctrl_c_in_a_resumable_command_says_where_the_cells_are(caplog):
    @resumable
    def command(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    args = argparse.Namespace(command="eval", command_name="lm2 eval", out="runs/x")
    assert command(args) == EXIT_INTERRUPTED == 130
    assert "lm2 eval: interrupted; the finished cells are saved in runs/x: the same command continues" in caplog.text


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"lm2 {lm2.__version__}"


def run_python(code: str) -> str:
    """What a fresh interpreter running `code` prints (nothing imported here leaks into it)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_help_loads_neither_torch_nor_transformers():
    """`lm2 --help` (the console script, `lm2_command`) lists every command from `COMMANDS` without importing
    any command's module or the model classes (fast)."""
    code = (
        "import sys\nfrom lm2_command import main\nsys.argv = ['lm2', '--help']\ntry:\n    main()\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'transformers', 'lm2.model', 'lm2.cli.train') if m in sys.modules))"
    )
    printed = run_python(code)
    assert printed.strip().splitlines()[-1] == "[]"
    assert all(f"    {name} " in printed for name in COMMANDS)


def test_python_m_lm2_command_is_the_console_script():
    """`python -m lm2_command` (how `lm2 reproduce` starts its commands with its own Python) runs the `lm2` command
    as the console script does: the same commands, the exit code passed on, the model classes not loaded for
    a command that does not use them."""
    done = subprocess.run([sys.executable, "-m", "lm2_command", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and all(f"    {name} " in done.stdout for name in COMMANDS)
    assert subprocess.run([sys.executable, "-m", "lm2_command", "no-such-command"], capture_output=True).returncode == 2
    code = (
        "import runpy, sys\nsys.argv = ['lm2', '--help']\n"
        "try:\n    runpy.run_module('lm2_command', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'transformers', 'lm2.model') if m in sys.modules))"
    )
    assert run_python(code).strip().splitlines()[-1] == "[]"


def test_import_lm2_registers_the_auto_classes():
    """DESIGN §5: after a plain `import lm2`, transformers' Auto classes know the model type (no remote code)."""
    code = (
        "import lm2\nfrom transformers import AutoConfig, AutoModelForCausalLM\n"
        "config = AutoConfig.for_model('lm2', hidden_size=32, num_attention_heads=4, segment_length=8)\n"
        "print(type(AutoModelForCausalLM.from_config(config)).__name__)"
    )
    assert run_python(code).strip().splitlines()[-1] == "LM2ForCausalLM"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("model")
    save_tiny_checkpoint(path, "lm2", dtype=torch.float32)
    return path


@pytest.mark.parametrize("device", ["gpu", "cuda", "cuda:7"])
@pytest.mark.parametrize("command", ["eval", "generate", "inspect", "recall", "demo", "train"])
def test_every_command_resolves_the_device_alike(command, device, model_dir, tmp_path, caplog):
    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = str(tmp_path / "out")
    argv = {
        "eval": ["eval", str(model_dir), "--out", out, "--generate", "--device", device],
        "generate": ["generate", "--model", str(model_dir), "--prompt", "Mary", "--device", device],
        "inspect": ["inspect", "--model", str(model_dir), "--prompt", "Mary", "--out", out, "--device", device],
        "recall": ["recall", "--out", out, "--device", device],
        "demo": ["demo", "--out", out, "--device", device],
        "train": ["train", "--run.out", out, "--run.device", device],
    }[command]
    assert main(argv) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    option = "run.device" if command == "train" else "--device"
    expected = "is not a device" if device == "gpu" else "but CUDA is not available on this machine; use auto or cpu"
    assert len(errors) == 1 and errors[0].startswith(f"lm2 {command}: {option}={device!r}") and expected in errors[0]


def test_device_resolution():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("CPU") == torch.device("cpu") and resolve_device(torch.device("cpu")).type == "cpu"
    with pytest.raises(ValueError, match="--x='tpu' is not a device; allowed: auto, cpu, cuda, cuda:N or mps"):
        resolve_device("tpu", "--x")
