"""A retrieval partner that stays in character: it never contradicts its persona, and
it talks about itself about as often as the Persona-Chat speakers did.

On top of :class:`~convenv.agents.retrieval.RetrievalPartner`'s ranking it

1. walks down the ranking past every response the consistency judge finds
   contradicts the persona ("i have a cat" for a persona with a black lab);
2. when the question is about one of its facts and the chosen response does not
   state it, states that fact instead, with probability ``rates.answer``;
3. with probability ``rates.volunteer`` adds one of its facts it has not said yet
   ("... i love hiking. what about you?" as people do).

A fact is stated in people's words where the pool has them: the pool sentence
nearest the fact with cosine in ``[paraphrase_floor, 0.9)`` that the judge does not
find contradicts the persona ("i've a black lab." → "i have a black lab named
max."); the fact's own words only when no sentence is close enough. People rarely
recite their persona card, and a verbatim fact is easier to identify than anything
a person says.

Both probabilities are calibrated on Persona-Chat *train* dialogs
(:func:`calibrate_rates`): they top up what the retrieval ranking already reveals to
what the people in those dialogs revealed. Draws are seeded by the context's seed
and turn, so an episode is the same in a single or a vector env.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from convenv.agents.base import DialogContext
from convenv.errors import InvalidArgumentError

# A sentence this close to a fact states it (fidelity's reveal threshold, MiniLM).
REVEAL_SIMILARITY = 0.5
# A question this close to a fact is about it (the retrieval partner's gate is fully
# open here: relevance_floor 0.3 + relevance_span 0.15).
ABOUT_SIMILARITY = 0.45
# A pool sentence this close to a fact states it in a person's words; closer than the
# ceiling it is the fact itself (the hard negatives' paraphrase bound).
PARAPHRASE_FLOOR = 0.6
PARAPHRASE_CEILING = 0.9
# A response sentence this close to some persona fact of the pool states a persona.
STRANGER_FLOOR = 0.6


@dataclass(frozen=True)
class RevealRates:
    """How often the partner states the asked-about fact and volunteers another one."""

    answer: float
    volunteer: float

    def __post_init__(self) -> None:
        for name in ("answer", "volunteer"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InvalidArgumentError(f"{name}={getattr(self, name)}; pass a probability.")


# From calibrate_rates on train dialogs 2000-2499 (outside the default pool's first
# 2,000; 1,000 speakers) with the default pool and MiniLM; reproduce with
# `python -m convenv.agents.consistent_partner`. Per turn, people stated the fact a
# question was about on 25% of such turns and another fact on 42% of all turns; the
# retrieval ranking states the asked-about fact on 89% and another on 15%. So it
# needs no help answering, and volunteering on 38% of turns brings the share of its
# facts a speaker states in 8 answers to the people's 0.619 (0.620).
CALIBRATED_RATES = RevealRates(answer=0.0, volunteer=0.381)


def _uniforms(context: DialogContext) -> tuple[float, float]:
    """Two reproducible uniforms for this context's turn (seed, turn and persona)."""
    key = f"{context.seed}|{len(context.history)}|{'|'.join(context.persona)}".encode()
    digest = hashlib.blake2b(key, digest_size=16).digest()
    a, b = int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:], "big")
    return a / 2.0**64, b / 2.0**64


class ConsistentPartner:
    """A persona partner that never contradicts its persona (see the module docstring).

    Args:
        base: The retrieval partner whose ranking is used.
        judge: A :class:`~convenv.consistency.ConsistencyJudge`.
        rates: How often to state the asked-about fact and to volunteer one.
        paraphrase_floor: How close a pool sentence must be to a fact to state it
            (``None``: always the fact's own words).
        stranger_floor: Pass over responses with a sentence this close to another
            persona's fact and to none of its own (``None``: keep them).
    """

    def __init__(
        self,
        base,
        judge,
        rates: RevealRates = CALIBRATED_RATES,
        paraphrase_floor: float | None = PARAPHRASE_FLOOR,
        stranger_floor: float | None = STRANGER_FLOOR,
    ) -> None:
        self.base, self.judge, self.rates = base, judge, rates
        self.encoder = base.encoder
        self.paraphrase_floor = paraphrase_floor
        self._sentences: tuple[list[str], np.ndarray] | None = None
        self._statements: dict[tuple[tuple[str, ...], int], str] = {}
        self.stranger_floor = stranger_floor
        self._facts: np.ndarray | None = None
        self._stranger_cache: dict[str, np.ndarray] = {}

    def _pool_fact_similarity(self, text: str, vectors: np.ndarray) -> np.ndarray:
        """Per sentence of response ``text``, its best cosine with any pool persona fact
        (the same for every persona, and the shortlists repeat: computed once per text)."""
        found = self._stranger_cache.get(text)
        if found is None:
            if self._facts is None:
                self._facts = self.encoder.encode_corpus(
                    self.judge.pool.facts, desc="persona facts"
                )
            found = (vectors @ self._facts.T).max(axis=1)
            if len(self._stranger_cache) >= 200_000:
                self._stranger_cache.pop(next(iter(self._stranger_cache)))
            self._stranger_cache[text] = found
        return found

    def _states_a_stranger(self, profile, text: str, vectors: np.ndarray) -> bool:
        """Whether a sentence states some persona fact of the pool (cosine ≥
        ``stranger_floor``) without stating one of this persona's (cosine ≥ 0.5): the
        person who wrote the response talking about themselves."""
        stranger = self._pool_fact_similarity(text, vectors) >= self.stranger_floor
        own = (vectors @ profile.facts.T).max(axis=1) >= REVEAL_SIMILARITY
        return bool((stranger & ~own).any())

    def pool_sentences(self) -> tuple[list[str], np.ndarray]:
        """The pool's response sentences and their embeddings (the identifier's warm-up
        embeds the same list, so the matrix usually comes from the disk cache)."""
        if self._sentences is None:
            from convenv.identifier import split_sentences

            texts = self.base.response_texts
            sentences = list(dict.fromkeys(t for u in texts for t in split_sentences(u)))
            self._sentences = (
                sentences,
                self.encoder.encode_corpus(sentences, desc="answer sentences"),
            )
        return self._sentences

    def statement(self, persona: tuple[str, ...], index: int) -> str:
        """How this partner says fact ``index`` of its persona (see the class docstring)."""
        key = (persona, index)
        found = self._statements.get(key)
        if found is None:
            found = persona[index]
            if self.paraphrase_floor is not None:
                sentences, matrix = self.pool_sentences()
                fact = self.judge.profile(persona).facts[index]
                similarity = matrix @ fact
                # The 20 nearest sentences, best first (a partition, not a full sort).
                nearest = np.argpartition(-similarity, min(20, len(similarity) - 1))[:20]
                for row in nearest[np.argsort(-similarity[nearest], kind="stable")].tolist():
                    if not self.paraphrase_floor <= similarity[row] < PARAPHRASE_CEILING:
                        continue
                    if self.judge.judge(persona, sentences[row]) != "contradict":
                        found = sentences[row]
                        break
            self._statements[key] = found
            if len(self._statements) > 50_000:
                self._statements.pop(next(iter(self._statements)))
        return found

    def respond(self, contexts: Sequence[DialogContext]) -> list[str]:
        if not contexts:
            return []
        ranking = self.base.rank(contexts)
        answers = []
        for b, context in enumerate(contexts):
            ranked = ranking.pairs[b][np.argsort(-ranking.scores[b], kind="stable")]
            relevance = ranking.relevance[b][: len(context.persona)]
            answers.append(self._answer(context, ranked, relevance))
        return answers

    def consistent_choice(self, context: DialogContext, ranked: np.ndarray) -> str:
        """The best-ranked response that is new in this dialog, not a contradiction, and
        (when one exists) not a statement of a stranger's persona fact."""
        profile = self.judge.profile(context.persona)
        said = set(context.history)
        fallback = None
        for index in ranked.tolist():
            text = self.base.response_texts[index]
            if text in said:
                continue
            vectors = self.judge.sentence_vectors(text)
            if self.judge.decide(profile.evidence(vectors)) == "contradict":
                continue
            if self.stranger_floor is None or not self._states_a_stranger(profile, text, vectors):
                return text
            fallback = fallback or text
        if fallback is not None:
            return fallback
        # Every shortlisted response contradicts: a fact of its own never does.
        return next((f for f in context.persona if f not in said), context.persona[0])

    def _answer(self, context: DialogContext, ranked: np.ndarray, relevance: np.ndarray) -> str:
        answer = self.consistent_choice(context, ranked)
        persona = context.persona
        stated = self._stated(persona, [answer])
        about = int(relevance.argmax())
        u_answer, u_volunteer = _uniforms(context)
        if (
            relevance[about] >= ABOUT_SIMILARITY
            and not stated[about]
            and u_answer < self.rates.answer
        ):
            answer, stated = self.statement(persona, about), np.arange(len(persona)) == about
        if u_volunteer < self.rates.volunteer:
            already = self._stated(persona, context.history[-2::-2]) | stated
            unsaid = np.flatnonzero(~already)
            if len(unsaid):
                # The draw that decided to volunteer also picks which fact, uniformly.
                share = u_volunteer / self.rates.volunteer
                fact = self.statement(persona, int(unsaid[int(share * len(unsaid))]))
                # End the answer's last sentence first, or the two would be judged as one.
                ended = answer if answer.rstrip().endswith((".", "!", "?")) else answer + "."
                longer = f"{ended} {fact}"
                if self.judge.judge(persona, longer) != "contradict":
                    answer = longer
        return answer

    def _stated(self, persona: Sequence[str], utterances: Sequence[str]) -> np.ndarray:
        """Which facts some sentence of ``utterances`` states (cosine ≥ 0.5)."""
        facts = self.judge.profile(persona).facts
        stated = np.zeros(len(persona), bool)
        for utterance in utterances:
            stated |= (facts @ self.judge.sentence_vectors(utterance).T).max(
                axis=1
            ) >= REVEAL_SIMILARITY
        return stated


@dataclass(frozen=True)
class RevealCounts:
    """Per speaker turn: was the question about a fact, was it stated, was another."""

    about: np.ndarray
    answered: np.ndarray
    volunteered: np.ndarray

    def rates(self) -> RevealRates:
        return RevealRates(
            float(self.answered[self.about].mean()) if self.about.any() else 0.0,
            float(self.volunteered.mean()) if len(self.volunteered) else 0.0,
        )


def reveal_counts(encoder, cases: Sequence[tuple[tuple[str, ...], str, str]]) -> RevealCounts:
    """For (persona, question, answer) triples: question about a fact; that fact stated;
    another fact stated (the figures the rates are calibrated on)."""
    from convenv.identifier import split_sentences

    about, answered, volunteered = [], [], []
    for persona, question, answer in cases:
        facts = encoder.encode(list(persona))
        relevance = facts @ encoder.encode([question])[0]
        sentences = list(split_sentences(answer)) or [answer]
        stated = (facts @ encoder.encode(sentences).T).max(axis=1) >= REVEAL_SIMILARITY
        target = int(relevance.argmax())
        is_about = bool(relevance[target] >= ABOUT_SIMILARITY)
        about.append(is_about)
        answered.append(bool(stated[target]))
        others = np.delete(stated, target) if is_about else stated
        volunteered.append(bool(others.any()))
    return RevealCounts(np.array(about), np.array(answered), np.array(volunteered))


def calibrate_rates(
    base, judge, dialogs, max_answers: int = 8, steps: int = 8, progress: bool = True
) -> tuple[RevealRates, dict]:
    """Rates that make the partner reveal its persona as the people in ``dialogs`` did
    (train dialogs the pool was not built from), replaying them in the people's place.

    ``answer`` tops up how often ``base`` states the asked-about fact to the people's
    rate per turn: ``(people − base) / (1 − base)``. ``volunteer`` is then found by
    bisection so that the share of its facts a speaker states within ``max_answers``
    answers (fidelity's reveal rate) equals the people's.
    Returns the rates and the measured figures.
    """
    from convenv.fidelity import replay, reveal_share

    encoder = base.encoder
    cases = replay(base, dialogs, max_answers, progress=progress)
    triples = [(c.persona, q, h) for c in cases for q, h in zip(c.questions, c.human, strict=True)]
    mine = [(c.persona, q, a) for c in cases for q, a in zip(c.questions, c.partner, strict=True)]
    people, retrieval = (
        reveal_counts(encoder, triples).rates(),
        reveal_counts(encoder, mine).rates(),
    )
    answer = float(
        np.clip((people.answer - retrieval.answer) / max(1.0 - retrieval.answer, 1e-9), 0, 1)
    )

    def coverage(who: str, partner=None) -> float:
        played = replay(partner, dialogs, max_answers, progress=False) if partner else cases
        return float(np.mean([reveal_share(encoder, c.persona, getattr(c, who)) for c in played]))

    wanted = coverage("human")
    low, high = 0.0, 1.0
    for _ in tqdm(range(steps), desc="calibrating volunteer rate", disable=not progress):
        middle = (low + high) / 2
        got = coverage("partner", ConsistentPartner(base, judge, RevealRates(answer, middle)))
        low, high = (middle, high) if got < wanted else (low, middle)
    rates = RevealRates(answer, round((low + high) / 2, 3))
    figures = {
        "people_per_turn": people.__dict__,
        "retrieval_per_turn": retrieval.__dict__,
        "people_reveal_rate": wanted,
        "consistent_reveal_rate": coverage("partner", ConsistentPartner(base, judge, rates)),
        "speakers": len(cases),
    }
    return rates, figures


if __name__ == "__main__":
    from convenv.consistency import ConsistencyJudge
    from convenv.defaults import default_components
    from convenv.personachat import fact_pool, load_dialogs, load_personas

    components = default_components()
    judge = ConsistencyJudge(components.encoder, fact_pool(load_personas("train")))
    found, measured = calibrate_rates(components.partner, judge, load_dialogs("train")[2000:2500])
    print(measured)
    print(found)
