"""What every subcommand shares: bad input ends with one line `lm2 <command>: ...` and exit code 2, never a
traceback; the help shows defaults; the shared options."""

from __future__ import annotations

import argparse
import logging

import pytest

from lm2.cli.common import EXIT_INTERRUPTED, HelpFormatter, UsageError, check_at_least_one, parse_indices, resumable
from lm2.cli.main import main


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
