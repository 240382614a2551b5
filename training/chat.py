"""``convenv chat``: a person interviews the persona partner.

Mode 0: you type the questions. Mode 1: you pick an action code each turn and the
interviewer asks. At the end the identifier's ranking of candidate facts is shown.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convenv.actions import ActionSet
from convenv.agents.base import DialogContext
from convenv.agents.human import HumanAgent
from convenv.arguments import add_speaker_arguments, positive, speakers_from_arguments
from convenv.candidates import sample_candidates
from convenv.cli import plain
from convenv.errors import DataFileError, InvalidArgumentError
from convenv.metrics import rank_order, ranking_metrics
from convenv.personachat import as_persona, fact_pool, load_personas


@dataclass
class ChatAgents:
    """Who talks in a chat: the partner, the interviewer (mode 1) and the identifier."""

    partner: object
    interviewer: object
    identifier: object


def read_persona_file(path: Path | str) -> list[tuple[str, ...]]:
    """Personas written one fact per line, a blank line between personas."""
    expected = "UTF-8 text: one fact per line, a blank line between personas"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise DataFileError(path, "file not found", expected) from err
    except UnicodeDecodeError as err:
        raise DataFileError(path, f"not UTF-8 text ({err.reason} at byte {err.start})",
                            expected) from err  # fmt: skip
    except OSError as err:
        raise DataFileError(path, f"cannot be read ({err.strerror})", expected) from err
    blocks = [b for b in text.strip().split("\n\n") if b.strip()]
    if not blocks:
        raise DataFileError(path, "no personas", expected)
    return [
        as_persona([line for line in b.splitlines() if line.strip()], str(path)) for b in blocks
    ]


def chat(
    persona: tuple[str, ...],
    mode: int,
    turns: int,
    components,
    input_fn: Callable[[str], str] = input,
    print_fn: Callable[[str], None] = print,
    seed: int = 0,
) -> dict[str, float]:
    """Run one console interview; returns the identification metrics at the end."""
    if mode not in (0, 1):
        raise InvalidArgumentError(f"mode={mode!r}; pass 0 (you ask) or 1 (you pick codes).")
    actions = ActionSet()
    rng = np.random.default_rng(seed)
    human = HumanAgent("you> ", input_fn)
    history: list[str] = []
    menu = " · ".join(
        f"{i} {a.label.removeprefix('ask about ').removeprefix('talk about ')}"
        for i, a in enumerate(actions)
    )
    turn = 0
    while turn < turns:
        try:  # the end of input ends the interview; the ranking is still shown
            if mode == 0:
                print_fn(f"[turn {turn + 1}/{turns}]")
                (question,) = human.respond([DialogContext(tuple(history))])
            else:
                choice = input_fn(f"[turn {turn + 1}/{turns}] {menu}\ncode> ").strip()
        except EOFError:
            break
        if mode == 1:
            if choice in ("", "q", "quit"):
                break
            if not choice.isdigit() or not 0 <= int(choice) < len(actions):
                # A bad entry costs no turn.
                print_fn(f"pick a number in [0, {len(actions) - 1}]")
                continue
            (question,) = components.interviewer.respond(
                [DialogContext(tuple(history), goal=actions[int(choice)].prompt, seed=seed + turn)]
            )
            print_fn(f"interviewer: {question}")
        turn += 1
        if question in ("", "q", "quit"):
            break
        (answer,) = components.partner.respond(
            [DialogContext((*history, question), persona=persona)]
        )
        print_fn(f"partner: {answer}")
        history += [question, answer]
    facts = fact_pool([*load_personas("test"), persona])
    candidates, truth = sample_candidates(persona, facts, 20, rng)
    scores = components.identifier.score(history[1::2], candidates)
    print_fn("\nidentifier's ranking (* = a true fact):")
    for place, i in enumerate(rank_order(scores)[:10], start=1):
        print_fn(f"{place:2d}. {'*' if truth[i] else ' '} {candidates[i]}  ({scores[i]:.2f})")
    metrics = ranking_metrics(scores, truth)
    print_fn(", ".join(f"{k}={v:.2f}" for k, v in metrics.items()))
    return metrics


def main(
    argv: list[str] | None = None,
    input_fn: Callable[[str], str] = input,
    print_fn: Callable[[str], None] = print,
) -> int:
    parser = argparse.ArgumentParser(
        prog="convenv chat",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--mode",
        type=int,
        default=1,
        choices=[0, 1],
        help="0: you type the questions; 1: you pick a code and the interviewer asks",
    )
    parser.add_argument("--turns", type=positive("--turns"), default=8, help="questions to ask")
    parser.add_argument("--persona", default=None, help="the partner's facts, separated by '|'")
    parser.add_argument(
        "--persona-file",
        default=None,
        help="personas to draw from, one fact per line, a blank line between personas "
        "(see data/example_personas.txt); unset: the test personas",
    )
    parser.add_argument("--seed", type=int, default=0, help="draws the persona if none is given")
    add_speaker_arguments(parser)
    args = parser.parse_args(argv)

    # Everything the command line names is checked before a model loads.
    if args.persona:
        persona = as_persona(args.persona.split("|"), "--persona")
    else:
        pool = read_persona_file(args.persona_file) if args.persona_file else load_personas("test")
        persona = pool[int(np.random.default_rng(args.seed).integers(len(pool)))]
    partner, interviewer, identifier = speakers_from_arguments(args)
    print_fn("The partner has a secret persona. Find out who they are; empty line ends.")
    components = ChatAgents(partner, interviewer, identifier)
    try:
        chat(persona, args.mode, args.turns, components, input_fn, print_fn, args.seed)
    except KeyboardInterrupt:
        print_fn("\n(stopped)")
    print_fn("\nthe partner's persona was: " + " | ".join(persona))
    return 0
