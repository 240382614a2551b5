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
from convenv.agent_choice import AGENT_KINDS
from convenv.agents.base import DialogContext
from convenv.agents.human import HumanAgent
from convenv.cli import plain
from convenv.errors import InvalidArgumentError
from convenv.metrics import rank_order, ranking_metrics
from convenv.personachat import as_persona, fact_pool, load_personas
from convenv.reference import sample_candidates


@dataclass
class ChatAgents:
    """Who talks in a chat: the partner, the interviewer (mode 1) and the identifier."""

    partner: object
    interviewer: object
    identifier: object


def read_persona_file(path: Path | str) -> list[tuple[str, ...]]:
    """Personas written one fact per line, a blank line between personas."""
    blocks = Path(path).read_text(encoding="utf-8").strip().split("\n\n")
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
        if mode == 0:
            print_fn(f"[turn {turn + 1}/{turns}]")
            (question,) = human.respond([DialogContext(tuple(history))])
        else:
            choice = input_fn(f"[turn {turn + 1}/{turns}] {menu}\ncode> ").strip()
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
    parser.add_argument("--mode", type=int, default=1, choices=[0, 1])
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--persona", default=None, help="facts separated by '|'")
    parser.add_argument("--persona-file", default=None, help="see data/example_personas.txt")
    parser.add_argument("--seed", type=int, default=0, help="samples the persona if none given")
    parser.add_argument("--partner", default="retrieval", choices=AGENT_KINDS, help="who answers")
    parser.add_argument(
        "--interviewer", default="retrieval", choices=AGENT_KINDS, help="who answers"
    )
    parser.add_argument("--model", default=None, help="PersonaGPT hub name or local directory")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    from convenv.agent_choice import resolve_agents

    if args.persona:
        persona = as_persona(args.persona.split("|"), "--persona")
    else:
        pool = read_persona_file(args.persona_file) if args.persona_file else load_personas("test")
        persona = pool[int(np.random.default_rng(args.seed).integers(len(pool)))]
    print_fn("The partner has a secret persona. Find out who they are; empty line ends.")
    partner, interviewer, identifier = resolve_agents(
        args.partner, args.interviewer, None, ActionSet(), args.model, args.device
    )
    components = ChatAgents(partner, interviewer, identifier)
    chat(persona, args.mode, args.turns, components, input_fn, print_fn, args.seed)
    print_fn("\nthe partner's persona was: " + " | ".join(persona))
    return 0
