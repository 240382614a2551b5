"""The console script: bad values fail at once with one line, before any model loads."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from convenv import cli


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "convenv.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["train", "--algorithm", "sac"], "--algorithm"),
        (["train", "--reward-mode", "sometimes"], "--reward-mode"),
        (["train", "--task", "verify"], "--task"),
        (["bench", "--partner", "gpt4"], "--partner"),
        (["bench", "--interviewer", "gpt4"], "--interviewer"),
        (["bench", "--task", "verify"], "--task"),
        (["selfplay", "--negatives", "easy"], "--negatives"),
        (["reference", "--negatives", "easy"], "--negatives"),
    ],
)
def test_bad_values_exit_2_with_one_line_before_loading_models(args, option):
    started = time.time()
    done = run(*args)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and option in errors[0]
    assert "Traceback" not in done.stderr and "Loading weights" not in done.stderr
    assert time.time() - started < 20  # nothing was loaded (a model load takes longer)


def test_convenv_errors_print_one_line_and_exit_2(tmp_path):
    missing = tmp_path / "no-such-model.zip"
    done = run("bench", "--policies", str(missing), "--limit", "1", "--no-progress",
               "--out", str(tmp_path / "b"))  # fmt: skip
    assert done.returncode == 2
    assert "convenv bench: error:" in done.stderr and "Traceback" not in done.stderr
    assert len([line for line in done.stderr.splitlines() if "error:" in line]) == 1
    assert "Loading weights" not in done.stderr  # refused before any model loaded


def test_version_and_help(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("convenv ")
    assert cli.main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "train-identifier" in text
    # Every command's line starts its description in one column, long names too.
    rows = [line for line in text.splitlines() if line.startswith("  ")]
    starts = {len(line) - len(line.split(None, 1)[1]) for line in rows}
    assert len(rows) == len(cli.SUBCOMMANDS) and len(starts) == 1


@pytest.mark.parametrize("command", sorted(cli.SUBCOMMANDS))
def test_every_help_is_plain_text_with_defaults(command, capsys):
    import importlib

    module = importlib.import_module(cli.SUBCOMMANDS[command][0])
    with pytest.raises(SystemExit) as done:
        module.main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "``" not in text and ":class:" not in text and ":func:" not in text
    assert "(default:" in text


class _Parsed(Exception):
    def __init__(self, parser) -> None:
        self.parser = parser


@pytest.mark.parametrize("command", sorted(cli.SUBCOMMANDS))
def test_every_option_has_help_and_its_default_once(command, monkeypatch):
    """A user reads --help: no option without a line, no default printed twice."""
    import argparse
    import importlib

    def capture(self, *args, **kwargs):
        raise _Parsed(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    module = importlib.import_module(cli.SUBCOMMANDS[command][0])
    with pytest.raises(_Parsed) as parsed:
        module.main([])
    missing, doubled = [], []
    for action in parsed.value.parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        text = action.help or ""
        if not text.strip():
            missing.append(action.option_strings or action.dest)
        if re.search(r"\(default\b|\bdefault:", text):
            doubled.append(action.option_strings or action.dest)
    assert not missing, f"options without help: {missing}"
    assert not doubled, f"help that states its default (argparse prints it too): {doubled}"


def test_a_bare_convenv_prints_usage_and_exits_2(capsys):
    assert cli.main([]) == 2
    assert "usage: convenv <command>" in capsys.readouterr().err


def test_finetune_on_a_missing_store_stops_before_loading_and_creates_nothing(tmp_path):
    missing = tmp_path / "typo" / "labels.sqlite"
    started = time.time()
    done = run("finetune", "--model", "smollm2", "--labels", str(missing))
    assert done.returncode == 2 and "does not exist" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert time.time() - started < 30 and not missing.parent.exists()
