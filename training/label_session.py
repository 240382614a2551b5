"""``convenv label``: a console active-learning session.

Dialog mode (default): each turn you pick an action code (or type a new one), the
interviewer proposes a question, you accept it (Enter), reject it (``r``) or type
the right question; the partner answers what was finally asked. Review mode: the
interviewer proposes ``--review N`` questions for random codes; the ones the goal
judge doubts most are shown first, and with ``--auto-accept T`` confident ones are
accepted without asking. Every decision is written to the label store at once.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from convenv.actions import ActionSet, code_from_string
from convenv.agents.base import DialogContext
from convenv.cli import plain
from convenv.personachat import load_personas
from convenv.training.goal_judge import GoalJudge, read_goal_proposals, read_goal_questions
from convenv.training.label_store import (
    AUTO_LABELLER,
    DEFAULT_STORE,
    LabelledExample,
    LabelStore,
)
from convenv.training.sqlite_file import DEFAULT_LOCK_TIMEOUT


def calibrated_judge(encoder, actions: ActionSet) -> GoalJudge:
    """The goal check with its temperature fitted to the hand-labelled goal questions
    and its confidence to the hand-labelled proposals (``data/goal_proposals.csv``)."""
    judge = GoalJudge(encoder, actions)
    judge.calibrate(*read_goal_questions())
    judge.fit_acceptance(*read_goal_proposals())
    return judge


def bundled_calibrated_judge(device: str = "auto") -> GoalJudge:
    """:func:`calibrated_judge` on the bundled MiniLM encoder and the default codes."""
    from convenv.encoder import SentenceEncoder

    return calibrated_judge(SentenceEncoder(device=device), ActionSet())


def teach_interviewer(interviewer, examples) -> int:
    """Put accepted/corrected questions into a retrieval interviewer's bank (at once)."""
    add = getattr(interviewer, "add_question", None)
    if add is None:
        return 0
    count = 0
    for example in examples:
        if example.is_training_example:
            add(example.code, example.final)
            count += 1
    return count


def _decide(
    store,
    interviewer,
    code,
    proposed,
    history,
    persona,
    confidence,
    auto_accept,
    labeller,
    input_fn,
    print_fn,
    neighbours: str | None = None,
) -> LabelledExample:
    print_fn(f"proposed for [{code}]: {proposed}   (goal check {confidence:.2f})")
    # Auto-accepted only if the nearest hand-labelled questions agree on the code too.
    agrees = neighbours is None or neighbours == code
    if auto_accept is not None and confidence >= auto_accept and not agrees:
        print_fn(f"  the nearest labelled questions say [{neighbours}]: you decide")
    if auto_accept is not None and confidence >= auto_accept and agrees:
        example = LabelledExample(
            code, proposed, proposed, "accept", history, persona, AUTO_LABELLER
        )
        print_fn("  auto-accepted")
    else:
        reply = input_fn("Enter=accept, r=reject, or type the right question> ").strip()
        if reply == "":
            example = LabelledExample(
                code, proposed, proposed, "accept", history, persona, labeller
            )
        elif reply.lower() in ("r", "reject"):
            example = LabelledExample(code, proposed, "", "reject", history, persona, labeller)
        else:
            example = LabelledExample(code, proposed, reply, "correct", history, persona, labeller)
    store.append(example)  # durable before anything else happens
    teach_interviewer(interviewer, [example])
    return example


def code_choice(choice: str, actions: ActionSet) -> str | None:
    """The code prompt a person picked: a listed number, or a typed new code (text with
    at least one letter); None for anything else (a number that is not listed)."""
    if choice.isdigit():
        return actions[int(choice)].prompt if int(choice) < len(actions) else None
    if not any(ch.isalpha() for ch in choice):
        return None
    return code_from_string(choice).prompt


def label_dialog(
    store: LabelStore,
    components,
    persona: tuple[str, ...],
    turns: int = 8,
    auto_accept: float | None = None,
    labeller: str = "person",
    input_fn: Callable[[str], str] = input,
    print_fn: Callable[[str], None] = print,
    seed: int = 0,
) -> int:
    """Run a labelling dialog; returns how many decisions were stored."""
    actions = ActionSet()
    judge = calibrated_judge(components.identifier.encoder, actions)
    history: list[str] = []
    stored = 0
    menu = " · ".join(f"{i} {a.label.removeprefix('ask about ').removeprefix('talk about ')}"
                      for i, a in enumerate(actions))  # fmt: skip
    turn = 0
    while turn < turns:
        choice = input_fn(
            f"[turn {turn + 1}/{turns}] {menu}\ncode number, or a new code, Enter to stop> "
        ).strip()
        if not choice:
            break
        code = code_choice(choice, actions)
        if code is None:  # a mistyped number is not a new code, and costs no turn
            print_fn(f"  no code {choice!r}: pick 0-{len(actions) - 1} or type a new code")
            continue
        turn += 1
        (proposed,) = components.interviewer.respond(
            [DialogContext(tuple(history), goal=code, seed=seed + turn - 1)]
        )
        confidence = float(judge.confidence([proposed], [code])[0])
        (neighbours,) = judge.neighbour_codes([proposed])
        example = _decide(
            store,
            components.interviewer,
            code,
            proposed,
            tuple(history),
            persona,
            confidence,
            auto_accept,
            labeller,
            input_fn,
            print_fn,
            neighbours,
        )
        stored += 1
        if example.verdict == "reject":
            continue
        (answer,) = components.partner.respond(
            [DialogContext((*history, example.final), persona=persona)]
        )
        print_fn(f"partner: {answer}")
        history += [example.final, answer]
    return stored


def draw_proposals(
    store: LabelStore, interviewer, actions: ActionSet, n: int, seed: int = 0
) -> tuple[list[str], list[str]]:
    """Up to ``n`` out-of-dialog proposals ``(codes, questions)`` for random codes that
    nobody has decided yet (fewer if the interviewer runs out of new questions)."""
    rng = np.random.default_rng(seed)
    seen = store.decided()
    codes: list[str] = []
    proposals: list[str] = []
    for _ in range(20):  # rounds of drawing; a small bank may run out of new questions
        wanted = n - len(proposals)
        if wanted <= 0:
            break
        draw_codes = [actions[int(k)].prompt for k in rng.integers(len(actions), size=2 * wanted)]
        seeds = rng.integers(2**31, size=len(draw_codes))
        drawn = interviewer.respond(
            [DialogContext(goal=c, seed=int(s)) for c, s in zip(draw_codes, seeds, strict=True)]
        )
        for code, question in zip(draw_codes, drawn, strict=True):
            if (code, question) not in seen and len(proposals) < n:
                seen.add((code, question))
                codes.append(code)
                proposals.append(question)
    return codes, proposals


def label_review(
    store: LabelStore,
    components,
    n: int,
    auto_accept: float | None = None,
    labeller: str = "person",
    input_fn: Callable[[str], str] = input,
    print_fn: Callable[[str], None] = print,
    seed: int = 0,
) -> int:
    """Review ``n`` out-of-dialog proposals, most doubtful first; returns decisions stored.

    A proposal already decided in the store (by anyone) or earlier in this session is
    never shown again: proposals are drawn until ``n`` new ones are found or the
    interviewer has no more.
    """
    actions = ActionSet()
    judge = calibrated_judge(components.identifier.encoder, actions)
    codes, proposals = draw_proposals(store, components.interviewer, actions, n, seed)
    if len(proposals) < n:
        print_fn(f"only {len(proposals)} proposals were not decided before")
    confidences = judge.confidence(proposals, codes)
    neighbours = judge.neighbour_codes(proposals) if proposals else []
    stored = 0
    for i in judge.review_order(proposals, codes):
        _decide(
            store,
            components.interviewer,
            codes[i],
            proposals[i],
            (),
            (),
            float(confidences[i]),
            auto_accept,
            labeller,
            input_fn,
            print_fn,
            neighbours[i],
        )
        stored += 1
    return stored


def main(
    argv: list[str] | None = None,
    input_fn: Callable[[str], str] = input,
    print_fn: Callable[[str], None] = print,
) -> int:
    parser = argparse.ArgumentParser(
        prog="convenv label",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--store", default=DEFAULT_STORE, help="the label store: a .sqlite or a .jsonl file"
    )
    parser.add_argument("--review", type=int, default=0, help="review N proposals instead")
    parser.add_argument("--turns", type=int, default=8, help="questions in the dialog")
    parser.add_argument(
        "--auto-accept",
        type=float,
        default=None,
        help="accept proposals whose goal check is at least this (0-1)",
    )
    parser.add_argument("--labeller", default="person", help="your name, kept with each decision")
    parser.add_argument(
        "--lock-timeout",
        type=float,
        default=DEFAULT_LOCK_TIMEOUT,
        help="seconds to wait for another writer of the store before failing",
    )
    parser.add_argument("--seed", type=int, default=0, help="draws the persona and proposals")
    from convenv.arguments import add_speaker_arguments, speakers_from_arguments

    add_speaker_arguments(
        parser, only=("interviewer", "model", "base_url", "api_key_env", "device")
    )
    args = parser.parse_args(argv)
    if args.auto_accept is not None and not 0.0 <= args.auto_accept <= 1.0:
        parser.error(f"--auto-accept {args.auto_accept}: pass a probability between 0 and 1")
    from convenv.training.chat import ChatAgents

    partner, interviewer, identifier = speakers_from_arguments(args)
    components = ChatAgents(partner, interviewer, identifier)
    store = LabelStore(args.store, lock_timeout=args.lock_timeout)
    known = teach_interviewer(interviewer, store.training_examples())
    print_fn(f"label store {store.path}: {known} earlier examples taught to the interviewer")
    try:
        if args.review:
            n = label_review(
                store,
                components,
                args.review,
                args.auto_accept,
                args.labeller,
                input_fn,
                print_fn,
                args.seed,
            )
        else:
            personas = load_personas("train")
            persona = personas[int(np.random.default_rng(args.seed).integers(len(personas)))]
            n = label_dialog(
                store,
                components,
                persona,
                args.turns,
                args.auto_accept,
                args.labeller,
                input_fn,
                print_fn,
                args.seed,
            )
    except (KeyboardInterrupt, EOFError):
        print_fn("\nstopped; every decision made so far is in the store")
        return 0
    print_fn(f"stored {n} decisions in {store.path}")
    return 0
