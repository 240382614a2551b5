"""The retrieval agents' batched code against a plain one-context-at-a-time reference."""

import hashlib

import numpy as np
import pytest

from convenv.agents.base import DialogContext
from convenv.agents.retrieval import RetrievalInterviewer, RetrievalPartner


class RandomEncoder:
    """Each text gets its own random unit vector (no ties, unlike bag-of-words)."""

    dim = 32

    def encode(self, texts):
        out = np.empty((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            seed = int(hashlib.md5(text.encode()).hexdigest()[:8], 16)
            v = np.random.default_rng(seed).normal(size=self.dim)
            out[i] = v / np.linalg.norm(v)
        return out

    def encode_corpus(self, texts, cache_dir=None, desc=""):
        return self.encode(texts)


def reference_answer(partner: RetrievalPartner, context: DialogContext) -> str:
    """The documented algorithm for one context, written the slow, obvious way."""
    enc = partner.encoder
    question = enc.encode([context.history[-1]])[0]
    topic = partner.contexts @ question
    top = np.argsort(-topic, kind="stable")[: partner.shortlist]
    facts = enc.encode(list(context.persona))
    relevance = facts @ question
    focus = np.exp((relevance - relevance.max()) / partner.focus_temperature)
    focus /= focus.sum()
    fit = (partner.responses[top] @ facts.T) @ focus
    gate = np.clip((relevance.max() - partner.relevance_floor) / partner.relevance_span, 0, 1)
    total = topic[top] + partner.persona_weight * gate * fit
    for i in top[np.argsort(-total, kind="stable")]:
        if partner.response_texts[i] not in context.history:
            return partner.response_texts[i]
    return partner.response_texts[top[int(np.argmax(total))]]


@pytest.fixture
def partner():
    pairs = [(f"context {i}", f"response {i}") for i in range(300)]
    # A low relevance floor so that the gate takes values between 0 and 1 here.
    return RetrievalPartner(
        RandomEncoder(), pairs, shortlist=20, relevance_floor=-0.1, relevance_span=0.3
    )


def contexts(n, seed=0):
    rng = np.random.default_rng(seed)
    facts = [f"fact {i}" for i in range(30)]
    out = []
    for _ in range(n):
        persona = tuple(rng.choice(facts, size=int(rng.integers(3, 6)), replace=False))
        out.append(DialogContext(("hi", f"question {rng.integers(50)}"), persona=persona))
    return out


def test_batched_partner_matches_the_reference(partner):
    batch = contexts(40)
    assert partner.respond(batch) == [reference_answer(partner, c) for c in batch]
    # ...and a context's answer does not depend on its batch.
    assert partner.respond(batch[:1]) == partner.respond(batch)[:1]


def test_partner_does_not_repeat_itself(partner):
    batch = contexts(12, seed=1)
    first = partner.respond(batch)
    again = [
        DialogContext((*c.history[:-1], answer, c.history[-1]), persona=c.persona)
        for c, answer in zip(batch, first, strict=True)
    ]
    second = partner.respond(again)
    assert second == [reference_answer(partner, c) for c in again]
    assert all(a != b for a, b in zip(first, second, strict=True))


def test_partner_gate_skips_unrelated_questions():
    pairs = [(f"context {i}", f"response {i}") for i in range(100)]
    plain = RetrievalPartner(RandomEncoder(), pairs, shortlist=20, persona_weight=0.0)
    gated = RetrievalPartner(RandomEncoder(), pairs, shortlist=20, relevance_floor=1.0)
    batch = contexts(20, seed=2)
    # No fact reaches a relevance of 1.0: every answer is the persona-free one.
    assert gated.respond(batch) == plain.respond(batch)


def test_interviewer_picks_among_the_first_unasked_questions():
    utterances = [f"do you like thing {i}?" for i in range(30)]
    interviewer = RetrievalInterviewer(
        RandomEncoder(), utterances, {"ask about things.": "things"}, bank_size=30, choices=4
    )
    bank = interviewer.bank("ask about things.")
    history = (bank[0], "yes.", bank[2], "no.")
    picks = {
        interviewer.respond([DialogContext(history, goal="ask about things.", seed=s)])[0]
        for s in range(200)
    }
    assert picks == {bank[1], bank[3], bank[4], bank[5]}
    everything = tuple(q for q in bank for q in (q, "ok."))
    (repeat,) = interviewer.respond([DialogContext(everything, goal="ask about things.", seed=3)])
    assert repeat in bank[:4]  # all asked: it starts over rather than fail


def test_partner_handles_a_persona_longer_than_usual(partner):
    long = DialogContext(("hi", "question 3"), persona=tuple(f"fact {i}" for i in range(7)))
    batch = [*contexts(6, seed=4), long]
    assert partner.respond(batch) == [reference_answer(partner, c) for c in batch]
    later = contexts(6, seed=5)
    assert partner.respond(later) == [reference_answer(partner, c) for c in later]
    # One long persona widens only its own batch, never the cached personas.
    huge = DialogContext(("hi", "question 3"), persona=tuple(f"fact {i}" for i in range(100)))
    partner.respond([huge])
    assert max(len(m) for m in partner._personas.values()) == 100
    assert all(len(m) == len(p) for p, m in partner._personas.items())
    facts, mask = partner._padded_facts([c.persona for c in later])
    assert facts.shape[1] == max(len(c.persona) for c in later) and mask.sum() == sum(
        len(c.persona) for c in later
    )


def test_warming_shortlists_the_bank_and_changes_no_answer(partner):
    batch = contexts(30, seed=6)
    cold = partner.respond(batch)
    warm = RetrievalPartner(
        RandomEncoder(),
        [(f"context {i}", f"response {i}") for i in range(300)],
        shortlist=20,
        relevance_floor=-0.1,
        relevance_span=0.3,
    )
    warm.warm([f"question {i}" for i in range(50)])
    assert len(warm._tops) == 50  # every question shortlisted before the first step
    assert warm.respond(batch) == cold


def test_a_repeated_batch_of_personas_answers_new_questions(partner):
    """The stacked personas of a batch are reused for the next step's questions."""
    batch = contexts(10, seed=7)
    partner.respond(batch)
    follow_up = [
        DialogContext(("hi", f"question {(i * 7) % 50}"), persona=c.persona)
        for i, c in enumerate(batch)
    ]
    assert partner.respond(follow_up) == [reference_answer(partner, c) for c in follow_up]
