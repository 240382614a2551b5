"""The ``convenv`` console script: one entry point, a subcommand per job."""

from __future__ import annotations

import importlib
import re
import sys

# Subcommand → module with a main(argv); imported only when used (training depends on
# convenv, not the other way round, and heavy imports stay out of --help).
SUBCOMMANDS = {
    "main": ("convenv.training.main_job", "train PPO on the offline default, then benchmark it"),
    "train": (
        "convenv.training.train_policy",
        "train an action policy with Stable-Baselines3 (or RLlib: --backend rllib)",
    ),
    "tune": ("convenv.training.tune_sweep", "sweep PPO settings with Ray Tune (ASHA)"),
    "selfplay": ("convenv.training.selfplay", "generate episodes as JSON Lines"),
    "bench": ("convenv.training.bench", "benchmark policies on a task's held-out test personas"),
    "chat": ("convenv.training.chat", "talk to the persona partner yourself"),
    "finetune": (
        "convenv.training.finetune",
        "supervised fine-tuning of a PersonaGPT-format model",
    ),
    "build-partner": (
        "convenv.training.build_partner",
        "fine-tune a small offline LM (SmolLM2) into a PersonaGPT-format partner",
    ),
    "evaluate": ("convenv.training.evaluate", "perplexity and F1 of a PersonaGPT-format model"),
    "label": (
        "convenv.training.label_session",
        "active learning: accept or correct proposed questions",
    ),
    "serve-labels": (
        "convenv.training.label_web",
        "the labelling web app for a team (FastAPI, SQLite store)",
    ),
    "serve-chat": (
        "convenv.training.serve_chat",
        "serve a chat model behind a minimal OpenAI-compatible API",
    ),
    "migrate-labels": (
        "convenv.training.migrate_labels",
        "copy a label store between JSON Lines and SQLite, nothing lost",
    ),
    "train-identifier": (
        "convenv.training.train_identifier",
        "fine-tune the identifier's encoder on Persona-Chat train dialogs",
    ),
    "fidelity": (
        "convenv.fidelity_cli",
        "the partner replayed in people's place on validation dialogs",
    ),
    "report": (
        "convenv.training.report",
        "persona-consistency report of one partner model, beside people, with headroom",
    ),
    "reference": ("convenv.reference_cli", "identifier accuracy on real Persona-Chat dialogs"),
    "prepare": ("convenv.prepare", "build every embedding cache once, before the jobs start"),
}


def plain(docstring: str | None) -> str:
    """A module docstring as --help text: reST markup (``code``, :class:`X`) made plain."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", docstring or "")
    return text.replace("``", "")


def usage() -> str:
    lines = ["usage: convenv <command> [options]   (convenv <command> --help)", "", "commands:"]
    width = max(len(name) for name in SUBCOMMANDS)
    lines += [f"  {name:{width}s}  {text}" for name, (_, text) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:  # a command is required, as argparse's own subcommands have it
        print(usage(), file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from convenv import __version__

        print(f"convenv {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command not in SUBCOMMANDS:
        print(f"convenv: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    from convenv.errors import ConvenvError

    module = importlib.import_module(SUBCOMMANDS[command][0])
    try:
        return int(module.main(rest) or 0)
    except ConvenvError as err:
        # Bad input or a missing model: one line that says what to do, not a traceback.
        print(f"convenv {command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
