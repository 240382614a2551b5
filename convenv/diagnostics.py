"""Checks that the simulated partner gives a policy something to learn."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convenv.actions import ActionSet
from convenv.agents.base import DialogContext
from convenv.identifier import split_sentences
from convenv.personachat import Persona


def topic_sensitivity(
    partner,
    interviewer,
    encoder,
    personas: Sequence[Persona],
    actions: ActionSet,
    seed: int = 0,
) -> dict[str, float]:
    """How often the partner reveals the fact an action code is about.

    For every persona and code, the *topic fact* is the persona fact closest to the
    code's description. The interviewer asks a question for that code (on topic) and
    one for a random other code (off topic); the *revealed fact* of an answer is the
    fact closest to one of its sentences. Returns both hit rates: on-topic far above
    off-topic means the partner's answers depend on what it is asked.
    """
    rng = np.random.default_rng(seed)
    topic_vectors = encoder.encode([a.description for a in actions])
    cases = []
    for persona in personas:
        facts = encoder.encode(list(persona))
        topic_fact = (facts @ topic_vectors.T).argmax(axis=0)  # per code
        for k, code in enumerate(actions):
            other = actions[int((k + rng.integers(1, len(actions))) % len(actions))]
            cases.append((persona, facts, int(topic_fact[k]), code.prompt, other.prompt))
    seeds = rng.integers(2**31, size=len(cases))
    asked = {}
    for name, col in (("on_topic", 3), ("off_topic", 4)):
        questions = interviewer.respond(
            [DialogContext(goal=c[col], seed=int(s)) for c, s in zip(cases, seeds, strict=True)]
        )
        answers = partner.respond(
            [DialogContext((q,), persona=c[0]) for c, q in zip(cases, questions, strict=True)]
        )
        hits = []
        for (_, facts, target, _, _), answer in zip(cases, answers, strict=True):
            sentences = encoder.encode(split_sentences(answer) or [answer])
            hits.append(int((facts @ sentences.T).max(axis=1).argmax()) == target)
        asked[name] = float(np.mean(hits))
    asked["cases"] = float(len(cases))
    return asked
