"""A retrieval partner that stays in character: it never contradicts its persona, and
it talks about itself about as often as the Persona-Chat speakers did.

On top of :class:`~convenv.agents.retrieval.RetrievalPartner`'s ranking it

1. walks down the ranking past every response the consistency judge finds
   contradicts the persona ("i have a cat" for a persona with a black lab), and past
   responses that state some other persona's fact (the stranger who wrote them);
2. when the question is about one of its facts, states that fact with probability
   ``rates.answer`` and otherwise answers with the best response that does not state
   it (people answer "do you have pets?" with "yes, he is so sweet." as often as with
   their pet);
3. at its speaker's volunteer rate adds one of its facts it has not said yet
   ("... i love hiking. what about you?"), never one it has said before.

A fact is stated in people's words where the pool has them: a pool sentence with
cosine in ``[paraphrase_floor, 0.9)`` to the fact that the judge does not find
contradicts the persona ("i've a black lab." -> "i have a black lab named max."), the
fact's own words only when no sentence is close enough. Each fact gets a target
strength (cosine) drawn from the strengths people used, and the pool sentence
nearest that target.

The rates and strengths are measured on Persona-Chat *train* dialogs by
``benchmarks/calibrate_consistent_partner.py``. Draws are seeded by the context's
seeds, turn and persona, so an episode is the same in a single or a vector env.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice

import numpy as np

from convenv.agents.base import DialogContext
from convenv.batching import BoundedCache
from convenv.errors import InvalidArgumentError
from convenv.vocabulary import (
    ABOUT_SIMILARITY,
    PARAPHRASE_SIMILARITY,
    REVEAL_SIMILARITY,
    PartEvidence,
    split_sentences,
)

# A pool sentence this close to a fact hints at or states it in a person's words;
# from the paraphrase bound up it is the fact itself.
PARAPHRASE_FLOOR = 0.4
# How many pool sentences nearest a fact's target strength the judge is asked about.
STATEMENT_SHORTLIST = 64
# How strongly people state a fact they touch at all: deciles (0, 10, ..., 100%) of
# the best cosine between a fact and their answers (8 per speaker) over the facts
# with one at or above PARAPHRASE_FLOOR (train dialogs 2000-2499).
PEOPLE_STRENGTHS = (0.4, 0.469, 0.528, 0.573, 0.622, 0.662, 0.701, 0.744, 0.795, 0.857, 1.0)
# Some people state everything loosely, some nearly word for word: 0.128 of the
# variance of those strengths is between speakers (their intraclass correlation). A
# speaker's looseness correlates its facts' target strengths by this much, which gives
# the partner the same 0.128 (drawing each fact on its own gives 0.033).
PEOPLE_STRENGTH_CORRELATION = 0.3
# A response sentence this close to some persona fact of the pool states a persona.
STRANGER_FLOOR = 0.6
# A fact's ladder keeps the pool sentences at least this close to it, sorted: the
# sentences nearest any target strength (0.4 and up) lie on it (the rest only where
# a target's shortlist reaches below, then the whole pool is scanned).
LADDER_FLOOR = 0.3
LADDER_CACHE = 20_000


# How many personas' verdicts on pool responses and texts are kept (each a few
# hundred): every train and test persona.
KNOWN_PERSONAS = 1400
# Ranked responses judged at once: most answers take one of the first few.
VERDICT_CHUNK = 8
# Dialog prefixes whose stated facts are kept (a running dialog needs only its last).
STATED_CACHE = 50_000


@dataclass(frozen=True)
class Verdict:
    """What one pool response says about one persona: whether the judge finds it
    contradicts the persona, which of its facts it states (cosine ≥ 0.5), and whether
    it states a stranger's fact (see ``stranger_floor``)."""

    contradicts: bool
    stated: np.ndarray
    stranger: bool
    # ``stated`` as bits (fact j: bit j): the partner tests it against a mask of facts
    # for every shortlisted response, an integer AND where an array AND cost 3 µs.
    stated_bits: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stated_bits", fact_bits(self.stated))


@dataclass
class PersonaMemory:
    """What the partner has worked out about one persona, kept across its dialogs (a
    persona meets the same shortlisted responses and sentences dialog after dialog)."""

    verdicts: dict[int, Verdict] = field(default_factory=dict)  # pool response -> verdict
    parts: dict[str, PartEvidence] = field(default_factory=dict)  # text -> evidence
    # Pool sentence -> whether the judge finds it contradicts the persona.
    contradicting: dict[str, bool] = field(default_factory=dict)
    # Fact index -> positions on the fact's ladder of the sentences only sharers wrote
    # (sorted): a few per fact, where the whole pool's mask is 37,048 entries.
    barred: dict[int, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Ladder:
    """The pool sentences nearest one fact, by cosine: ``rows`` ascending in
    ``similarities``; ``complete`` when no sentence lies below the floor."""

    rows: np.ndarray
    similarities: np.ndarray
    complete: bool


@dataclass(frozen=True)
class RevealRates:
    """How often the partner states the asked-about fact (on turns whose question is
    about one of its facts) and volunteers another one.

    People differ: some talk about themselves on most turns, some hardly at all. With
    ``concentration`` each speaker (a persona in one dialog) gets its own volunteer
    rate, a draw from a Beta distribution with mean ``volunteer`` and that
    concentration (a + b; smaller is more spread); ``None`` gives everybody the rate
    ``volunteer``.
    """

    answer: float
    volunteer: float
    concentration: float | None = None

    def __post_init__(self) -> None:
        for name in ("answer", "volunteer"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InvalidArgumentError(f"{name}={getattr(self, name)}; pass a probability.")
        if self.concentration is not None and not self.concentration > 0:
            raise InvalidArgumentError(
                f"concentration={self.concentration}; pass a positive number, or None for "
                "the same volunteer rate for everybody."
            )

    def volunteer_rate(self, share: float) -> float:
        """The volunteer rate of the speaker at quantile ``share`` of the spread."""
        if self.concentration is None or self.volunteer in (0.0, 1.0):
            return self.volunteer
        from scipy.stats import beta

        a = self.volunteer * self.concentration
        return float(beta.ppf(share, a, self.concentration - a))


# Measured on train dialogs 2000-2499 (outside the default pool; 1,000 speakers), each
# speaker replayed on its own earlier answers. People state the fact a question is
# about on 25% of such turns: ``answer`` is that rate. ``volunteer`` is the rate that
# makes a speaker state as much of its persona in 8 answers as the people did (0.619);
# one rate for everybody spreads that share over speakers as the people's does (s.d.
# 0.284, people 0.283), where a Beta spread of rates overshoots (0.33).
CALIBRATED_RATES = RevealRates(answer=0.251, volunteer=0.389, concentration=None)
# Named rates: ``people`` (the calibrated default), and ``responsive``, a partner that
# states the fact it is asked about on 90% of such turns and volunteers little (15%):
# against it what is asked decides what is said.
PRESETS = {
    "people": CALIBRATED_RATES,
    "responsive": RevealRates(answer=0.9, volunteer=0.15, concentration=None),
}


def fact_bits(mask: np.ndarray) -> int:
    """A mask over a persona's facts as an integer: bit j set where ``mask[j]``."""
    return sum(1 << j for j, on in enumerate(mask.tolist()) if on)


def _hashed_uniforms(key: str, count: int) -> list[float]:
    """``count`` reproducible uniforms in [0, 1) from ``key`` (64 bits of a hash each)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8 * count).digest()
    return [int.from_bytes(digest[8 * i : 8 * i + 8], "big") / 2.0**64 for i in range(count)]


def _persona_uniform(purpose: str, persona: Sequence[str]) -> float:
    """A reproducible uniform for ``persona`` (the same in every dialog it has)."""
    return _hashed_uniforms(f"{purpose}|{'|'.join(persona)}", 1)[0]


def _uniforms(context: DialogContext) -> tuple[float, float]:
    """Two reproducible uniforms for this context's turn (seed, turn and persona)."""
    key = f"{context.seed}|{len(context.history)}|{'|'.join(context.persona)}"
    u_answer, u_volunteer = _hashed_uniforms(key, 2)
    return u_answer, u_volunteer


class ConsistentPartner:
    """A persona partner that never contradicts its persona (see the module docstring).

    Args:
        base: The retrieval partner whose ranking is used.
        judge: A :class:`~convenv.consistency.ConsistencyJudge`.
        rates: How often to state the asked-about fact and to volunteer one.
        paraphrase_floor: How close a pool sentence must be to a fact to state it
            (``None``: always the fact's own words).
        strengths: Quantiles of the cosine people state a fact with; each fact of a
            persona draws its target from them (``None``: the nearest sentence).
        strength_correlation: How much one speaker's facts share their strength (a
            Gaussian copula: each speaker draws a looseness, each fact its own part;
            0 draws every fact on its own). The marginal strengths stay ``strengths``.
        stranger_floor: Pass over responses with a sentence this close to another
            persona's fact and to none of its own (``None``: keep them).
        authors: Who wrote each pool response
            (:class:`~convenv.agents.pool_authors.PoolAuthors`): with it, the partner
            never uses the words of a speaker who shared one of its facts, so a train
            persona gets no help that a test persona would not (``None``: the whole
            pool, for a pool of unknown authors).
    """

    def __init__(
        self,
        base,
        judge,
        rates: RevealRates = CALIBRATED_RATES,
        paraphrase_floor: float | None = PARAPHRASE_FLOOR,
        stranger_floor: float | None = STRANGER_FLOOR,
        strengths: Sequence[float] | None = PEOPLE_STRENGTHS,
        strength_correlation: float = PEOPLE_STRENGTH_CORRELATION,
        authors=None,
    ) -> None:
        if authors is not None and authors.size != len(base.response_texts):
            raise InvalidArgumentError(
                f"authors has {authors.size} responses and the base partner's pool "
                f"{len(base.response_texts)}; pass the authors of the same pool."
            )
        self.authors = authors
        if not 0.0 <= strength_correlation < 1.0:
            raise InvalidArgumentError(
                f"strength_correlation={strength_correlation!r}; pass a share in [0, 1) "
                "(0: each fact's strength drawn on its own)."
            )
        self.strength_correlation = float(strength_correlation)
        if strengths is not None and (len(strengths) < 2 or list(strengths) != sorted(strengths)):
            raise InvalidArgumentError(
                f"strengths={strengths!r}; pass increasing quantiles (at least 2) of the "
                "cosine people state a fact with, or None for the nearest sentence."
            )
        self.strengths = None if strengths is None else np.asarray(strengths, np.float64)
        self.base, self.judge, self.rates = base, judge, rates
        self.encoder = base.encoder
        self.paraphrase_floor = paraphrase_floor
        self._sentences: tuple[list[str], np.ndarray] | None = None
        self._statements: BoundedCache[tuple[tuple[str, ...], int, float], str] = BoundedCache(
            50_000
        )
        self._ladders: BoundedCache[str, Ladder] = BoundedCache(LADDER_CACHE)
        self._target_cache: BoundedCache[tuple[tuple[str, ...], int | None], tuple[float, ...]]
        self._target_cache = BoundedCache(50_000)
        # persona -> (each fact's share, its part of the copula's z; None without one)
        self._fact_shares: BoundedCache[tuple[str, ...], tuple[np.ndarray, np.ndarray | None]]
        self._fact_shares = BoundedCache(KNOWN_PERSONAS)
        self._known: BoundedCache[tuple[str, ...], PersonaMemory] = BoundedCache(KNOWN_PERSONAS)
        self._response_vector_cache: dict[int, np.ndarray] = {}
        self._stated_cache: BoundedCache[tuple[tuple[str, ...], tuple[str, ...]], np.ndarray]
        self._stated_cache = BoundedCache(STATED_CACHE)
        self._volunteer_rates: BoundedCache[tuple[tuple[str, ...], int | None], float]
        self._volunteer_rates = BoundedCache(50_000)
        self.stranger_floor = stranger_floor
        self._facts: np.ndarray | None = None
        self._stranger_cache: BoundedCache[str, np.ndarray] = BoundedCache(200_000)

    def _pool_fact_similarity(self, text: str, vectors: np.ndarray) -> np.ndarray:
        """Per sentence of response ``text``, its best cosine with any pool persona fact
        (the same for every persona, and the shortlists repeat: computed once per text)."""
        found = self._stranger_cache.get(text)
        if found is None:
            if self._facts is None:
                self._facts = self.encoder.encode_corpus(
                    self.judge.pool.facts, desc="persona facts"
                )
            found = self._stranger_cache.put(text, (vectors @ self._facts.T).max(axis=1))
        return found

    def pool_sentences(self) -> tuple[list[str], np.ndarray]:
        """The pool's response sentences and their embeddings (the identifier's warm-up
        embeds the same list, so the matrix usually comes from the disk cache)."""
        if self._sentences is None:
            texts = self.base.response_texts
            split = [split_sentences(u) for u in texts]
            sentences = list(dict.fromkeys(t for parts in split for t in parts))
            if self.authors is not None:
                row = {t: i for i, t in enumerate(sentences)}
                self.authors.index_sentences([[row[t] for t in parts] for parts in split])
            self._sentences = (
                sentences,
                self.encoder.encode_corpus(sentences, desc="answer sentences"),
            )
        return self._sentences

    def statement(
        self, persona: tuple[str, ...], index: int, dialog_seed: int | None = None
    ) -> str:
        """How this partner says fact ``index`` of its persona, in the dialog of
        ``dialog_seed`` (see the class docstring): of the ``STATEMENT_SHORTLIST`` pool
        sentences nearest the fact's target strength (sharers' words left out), the
        first in the paraphrase band that the judge does not find contradicts the
        persona, nearest the target first; the fact's own words if none is."""
        target = (
            1.0 if self.strengths is None else self.target_strength(persona, index, dialog_seed)
        )
        key = (persona, index, target)
        found = self._statements.get(key)
        if found is None:
            found = persona[index]
            if self.paraphrase_floor is not None:
                self.pool_sentences()  # indexes the pool's sentences by author first
                rows, similarity = self._nearest_to_target(persona, index, target)
                # In float64, as the band's bounds are (float32 would round 0.9 down).
                similarity = similarity.astype(np.float64)
                in_band = (self.paraphrase_floor <= similarity) & (
                    similarity < PARAPHRASE_SIMILARITY
                )
                band = rows[in_band]
                found = self._first_consistent(persona, band.tolist()) or found
            self._statements.put(key, found)
        return found

    def _first_consistent(self, persona: tuple[str, ...], rows: Sequence[int]) -> str | None:
        """The first pool sentence of ``rows`` the judge does not find contradicts
        ``persona`` (the sentences are judged in chunks, each in one product)."""
        sentences, matrix = self.pool_sentences()
        memory = self._memory(persona)
        known, contradicting = memory.parts, memory.contradicting
        for start in range(0, len(rows), VERDICT_CHUNK):
            chunk = [sentences[r] for r in rows[start : start + VERDICT_CHUNK]]
            unknown = [k for k, text in enumerate(chunk) if text not in known]
            if unknown:
                profile = self.judge.profile(persona)
                # A pool sentence is one sentence: its embedding is its row of the matrix.
                said = matrix[[rows[start + k] for k in unknown]]
                own, other = profile.parts(said, np.arange(len(unknown)))
                for column, k in enumerate(unknown):
                    known[chunk[k]] = PartEvidence(own[:, column], other[:, column])
            for text in chunk:
                bad = contradicting.get(text)
                if bad is None:  # decided once per persona: statements meet it again
                    bad = contradicting[text] = self._contradicts(known[text])
                if not bad:
                    return text
        return None

    def _ladder(self, persona: tuple[str, ...], index: int) -> Ladder:
        """The pool sentences at or above ``LADDER_FLOOR`` to fact ``index``, sorted by
        their cosine with it (one pass over the pool per fact, kept)."""
        fact = persona[index]
        found = self._ladders.get(fact)
        if found is None:
            _, matrix = self.pool_sentences()
            similarity = matrix @ self.judge.profile(persona).facts[index]
            rows = np.flatnonzero(similarity >= LADDER_FLOOR)
            order = rows[np.argsort(similarity[rows], kind="stable")]
            found = Ladder(order, similarity[order], complete=len(rows) == len(similarity))
            self._ladders.put(fact, found)
        return found

    def _nearest_to_target(
        self,
        persona: tuple[str, ...],
        index: int,
        target: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, cosines)`` of the ``STATEMENT_SHORTLIST`` pool sentences whose cosine
        with fact ``index`` is nearest ``target`` (sharers' sentences left out), nearest
        first and, at equal distance, the closer to the fact first: a window around the
        target on the fact's ladder, widened until each side holds enough sentences."""
        ladder = self._ladder(persona, index)
        barred = self._barred(persona, index, ladder)
        sims, order = ladder.similarities, ladder.rows
        reach = min(STATEMENT_SHORTLIST, len(self.pool_sentences()[0]) - 1)
        middle = int(np.searchsorted(sims, target))
        width = 2 * reach
        while True:
            low, high = max(0, middle - width), min(len(sims), middle + width)
            # How many barred positions lie below low, middle and high.
            cut_low, cut_middle, cut_high = np.searchsorted(barred, (low, middle, high)).tolist()
            below = middle - low - (cut_middle - cut_low)
            above = high - middle - (cut_high - cut_middle)
            below_done = low == 0 or below >= reach
            if low == 0 and below < reach and not ladder.complete:
                # The window left the ladder: the sentences below its floor decide.
                return self._nearest_by_scan(persona, index, target, reach)
            if below_done and (high == len(sims) or above >= reach):
                break
            width *= 2
        rows, values = order[low:high], sims[low:high]
        if cut_high > cut_low:
            kept = np.ones(len(rows), bool)
            kept[barred[cut_low:cut_high] - low] = False
            rows, values = rows[kept], values[kept]
        distance = np.abs(values - target)
        nearest = np.lexsort((-values, distance))[:reach]
        return rows[nearest], values[nearest]

    def _barred(self, persona: tuple[str, ...], index: int, ladder: Ladder) -> np.ndarray:
        """The positions on fact ``index``'s ladder of sentences only the persona's
        sharers wrote (kept per persona and fact)."""
        memory = self._memory(persona)
        found = memory.barred.get(index)
        if found is None:
            if self.authors is None:
                found = np.zeros(0, np.intp)
            else:
                found = np.flatnonzero(self.authors.excluded_sentences(persona)[ladder.rows])
            memory.barred[index] = found
        return found

    def _nearest_by_scan(self, persona, index, target, reach):
        """:meth:`_nearest_to_target` over the whole pool (for targets near the floor)."""
        excluded = None if self.authors is None else self.authors.excluded_sentences(persona)
        _, matrix = self.pool_sentences()
        similarity = matrix @ self.judge.profile(persona).facts[index]
        distance = np.abs(similarity - target)
        if excluded is not None:
            distance[excluded] = np.inf
        shortlist = np.argpartition(distance, reach)[:reach]
        shortlist = shortlist[np.lexsort((-similarity[shortlist], distance[shortlist]))]
        shortlist = shortlist[np.isfinite(distance[shortlist])]
        return shortlist, similarity[shortlist]

    def target_strength(
        self, persona: tuple[str, ...], index: int, dialog_seed: int | None = None
    ) -> float:
        """The cosine this persona states fact ``index`` with in the dialog of
        ``dialog_seed``: a reproducible draw from the people's quantiles. The fact's
        own part is the same in every dialog; with ``strength_correlation`` the
        speaker's looseness (its own per dialog, like its talkativeness) moves all of
        its facts together."""
        return self._targets(persona, dialog_seed)[index]

    def _targets(self, persona: tuple[str, ...], dialog_seed: int | None) -> tuple[float, ...]:
        """Every fact's target strength for this speaker, drawn at once (kept)."""
        key = (persona, dialog_seed)
        found = self._target_cache.get(key)
        if found is None:
            from scipy.special import ndtr, ndtri  # what norm.cdf and norm.ppf compute

            kept = self._fact_shares.get(persona)
            if kept is None:  # the facts' own parts: the same in every dialog
                shares = np.array(
                    [_persona_uniform(f"strength|{i}", persona) for i in range(len(persona))]
                )
                c = self.strength_correlation
                own = np.sqrt(1 - c) * ndtri(shares) if c > 0 else None
                kept = self._fact_shares.put(persona, (shares, own))
            shares, own = kept
            if self.strength_correlation > 0:
                looseness = _persona_uniform(f"looseness|{dialog_seed}", persona)
                z = np.sqrt(self.strength_correlation) * ndtri(looseness) + own
                shares = ndtr(z)
            grid = np.linspace(0.0, 1.0, len(self.strengths))
            found = tuple(float(v) for v in np.interp(shares, grid, self.strengths))
            self._target_cache.put(key, found)
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

    def consistent_choice(
        self, context: DialogContext, ranked: np.ndarray, unstated: np.ndarray | None = None
    ) -> str:
        """The best-ranked response that is new in this dialog, not a contradiction, and
        (when one exists) not a statement of a stranger's persona fact; with
        ``unstated`` (a mask over the persona's facts), one that states none of those."""
        persona = context.persona
        avoided = 0 if unstated is None else fact_bits(unstated)  # 0: nothing to avoid
        said = set(context.history)
        fallback = None
        barred = None if self.authors is None else self.authors.excluded_responses(persona)
        texts = self.base.response_texts
        open_ = (
            i for i in ranked.tolist()
            if texts[i] not in said and (barred is None or not barred[i])
        )  # fmt: skip
        known = self._memory(persona).verdicts
        while chunk := list(islice(open_, VERDICT_CHUNK)):
            unknown = [i for i in chunk if i not in known]
            if unknown:
                self._judge_responses(persona, unknown)
            for index in chunk:
                verdict = known[index]
                if verdict.contradicts:
                    continue
                if verdict.stated_bits & avoided:
                    continue
                if not verdict.stranger:
                    return texts[index]
                fallback = fallback or texts[index]
        if fallback is not None:
            return fallback
        # Every shortlisted response contradicts: a fact of its own never does.
        own = [f for i, f in enumerate(persona) if unstated is None or not unstated[i]] or list(
            persona
        )
        return next((f for f in own if f not in said), own[0])

    def verdict(self, persona: tuple[str, ...], index: int) -> Verdict:
        """What pool response ``index`` says about ``persona`` (kept per persona: a
        persona meets the same shortlisted responses in dialog after dialog)."""
        known = self._memory(persona).verdicts
        if index not in known:
            self._judge_responses(persona, [index])
        return known[index]

    def _judge_responses(self, persona: tuple[str, ...], indices: Sequence[int]) -> None:
        """The verdicts (and parts) of several pool responses for ``persona``, in one
        product over all their sentences."""
        profile = self.judge.profile(persona)
        texts = [self.base.response_texts[i] for i in indices]
        vectors = [self._response_vectors(i) for i in indices]
        counts = np.array([len(v) for v in vectors])
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        said = np.concatenate(vectors)
        similarity = profile.similarities(said)  # (facts, sentences): one product for all
        own, other = profile.parts(said, starts, similarity)
        best = own.argmax(axis=0)
        columns = np.arange(len(indices))
        contradicts = self.judge.contradicted(own[best, columns], other[best, columns])
        stated = own >= REVEAL_SIMILARITY
        stranger = np.zeros(len(indices), bool)
        if self.stranger_floor is not None:
            # A sentence that states some persona fact of the pool and none of its own:
            # the person who wrote the response talking about themselves.
            strangers = (
                np.concatenate(
                    [self._pool_fact_similarity(t, v) for t, v in zip(texts, vectors, strict=True)]
                )
                >= self.stranger_floor
            )
            mine = similarity.max(axis=0) >= REVEAL_SIMILARITY
            stranger = np.logical_or.reduceat(strangers & ~mine, starts)
        memory = self._memory(persona)
        for k, (index, text) in enumerate(zip(indices, texts, strict=True)):
            memory.verdicts[index] = Verdict(bool(contradicts[k]), stated[:, k], bool(stranger[k]))
            memory.parts[text] = PartEvidence(own[:, k], other[:, k])

    def _response_vectors(self, index: int) -> np.ndarray:
        """The sentence embeddings of pool response ``index`` (kept: every persona asks)."""
        found = self._response_vector_cache.get(index)
        if found is None:
            found = self._response_vector_cache[index] = self.judge.sentence_vectors(
                self.base.response_texts[index]
            )
        return found

    def _contradicts(self, part) -> bool:
        return self.judge.decide(part.evidence()) == "contradict"

    def part(self, persona: tuple[str, ...], text: str):
        """The judge's :class:`~convenv.consistency.PartEvidence` of ``text`` for
        ``persona`` (kept per persona)."""
        cache = self._memory(persona).parts
        found = cache.get(text)
        if found is None:
            vectors = self.judge.sentence_vectors(text)
            found = cache[text] = self.judge.profile(persona).part(vectors)
        return found

    def _memory(self, persona: tuple[str, ...]) -> PersonaMemory:
        """What is known of texts and pool responses for one persona (recent personas)."""
        memory = self._known.get(persona)
        if memory is None:
            memory = self._known.put(persona, PersonaMemory())
        return memory

    def _answer(self, context: DialogContext, ranked: np.ndarray, relevance: np.ndarray) -> str:
        persona = context.persona
        about = int(relevance.argmax())
        is_about = bool(relevance[about] >= ABOUT_SIMILARITY)
        u_answer, u_volunteer = _uniforms(context)
        answering = is_about and u_answer < self.rates.answer
        # People seldom say a fact twice (an answer states only facts said before on 7%
        # of their turns; the partner before this rule, 27%), and they state the fact
        # they are asked about at their own rate, not whenever asked.
        said_before = self._stated(persona, context.history[-2::-2])
        unstated = said_before.copy()
        if is_about:
            unstated[about] = not answering
        answer = self.consistent_choice(context, ranked, unstated)
        stated = self._stated(persona, [answer])
        if answering and not stated[about]:
            answer = self.statement(persona, about, context.dialog_seed)
            stated = np.arange(len(persona)) == about
        rate = self.volunteer_rate(persona, context.dialog_seed)
        if u_volunteer < rate:
            already = said_before | stated
            if is_about:
                already[about] = True  # what is volunteered is *another* fact
            unsaid = np.flatnonzero(~already)
            if len(unsaid):
                # The draw that decided to volunteer also picks which fact, uniformly.
                share = u_volunteer / rate
                which = int(unsaid[int(share * len(unsaid))])
                fact = self.statement(persona, which, context.dialog_seed)
                # End the answer's last sentence first, or the two would be judged as one.
                ended = answer if answer.rstrip().endswith((".", "!", "?")) else answer + "."
                # The two said together: the judge's evidence of both parts at once.
                joint = self.part(persona, ended) | self.part(persona, fact)
                if not self._contradicts(joint):
                    answer = f"{ended} {fact}"
                    self._remember_joint(persona, answer, (ended, fact), joint)
        return answer

    def _remember_joint(
        self, persona: tuple[str, ...], answer: str, pieces: tuple[str, str], joint: PartEvidence
    ) -> None:
        """Keep ``joint`` as the evidence of ``answer``, the pieces said together, when
        ``answer``'s sentences are the pieces' sentences: the evidence of texts said
        together is exactly the maximum of theirs, so the next turn's look at what was
        said needs no encoder call or product for it."""
        memory = self._memory(persona)
        if answer in memory.parts:
            return
        split = [split_sentences(piece) for piece in pieces]
        if all(split) and split_sentences(answer) == split[0] + split[1]:
            memory.parts[answer] = joint

    def volunteer_rate(self, persona: tuple[str, ...], dialog_seed: int | None = None) -> float:
        """How often the speaker of this persona in this dialog volunteers a fact: its
        own draw from the spread. In Persona-Chat each dialog has its own crowdworker
        playing the persona, so talkativeness belongs to the dialog (``dialog_seed``),
        not to the persona; without a dialog seed it is the persona's."""
        key = (persona, dialog_seed)
        found = self._volunteer_rates.get(key)
        if found is None:
            found = self.rates.volunteer_rate(
                _persona_uniform(f"talkativeness|{dialog_seed}", persona)
            )
            self._volunteer_rates.put(key, found)
        return found

    def _stated(self, persona: Sequence[str], utterances: Sequence[str]) -> np.ndarray:
        """Which facts some sentence of ``utterances`` states (cosine ≥ 0.5); kept for
        the dialog so far, since the next turn only adds the newest answer in front."""
        persona, utterances = tuple(persona), tuple(utterances)
        if not utterances:
            return np.zeros(len(persona), bool)
        key = (persona, utterances)
        found = self._stated_cache.get(key)
        if found is None:
            found = self._stated(persona, utterances[1:]) | (
                self.part(persona, utterances[0]).own >= REVEAL_SIMILARITY
            )
            # Bounded: a key per dialog prefix would otherwise grow with every turn played.
            self._stated_cache.put(key, found)
        return found
