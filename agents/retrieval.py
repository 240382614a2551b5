"""Offline agents that speak in Persona-Chat utterances, chosen by sentence similarity."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convenv.agents.base import DialogContext, last_utterance
from convenv.batching import LastBatch, RowCache, padded_stack
from convenv.errors import InvalidArgumentError

_SENTENCE = re.compile(r"[^.!?]*[.!?]+")


@dataclass(frozen=True)
class Ranking:
    """A batch's candidate answers: ``pairs`` ``(N, shortlist)`` pool indices with their
    ``scores``, and ``relevance`` ``(N, most facts)`` of the question to each persona
    fact (``-inf`` for padding)."""

    pairs: np.ndarray
    scores: np.ndarray
    relevance: np.ndarray


class RetrievalPartner:
    """A persona partner that answers with a real Persona-Chat response.

    The pool holds (context, response) pairs: each response with the utterance it
    answered. A question is matched against the *contexts* (questions retrieve
    answers to similar questions, not other questions); the ``shortlist`` best are
    then re-ranked by how close each response is to the persona facts the question
    is about (facts weighted by a softmax of their similarity to the question), so a
    partner asked about pets talks about its own pet if it has one, and asked about
    work talks about its job rather than its favourite fact. The persona term fades
    out when no fact is closer to the question than ``relevance_floor`` (cosine).

    Args:
        encoder: A :class:`~convenv.encoder.SentenceEncoder` (or anything with
            ``encode`` and ``encode_corpus``).
        pairs: ``(context, response)`` utterance pairs.
        shortlist: How many topic matches are re-ranked by persona.
        persona_weight: Weight of persona similarity against topic similarity.
        cache_dir: Where the pool's embedding matrix is cached.
        block_cache_size: How many questions' shortlisted response embeddings are kept
            in memory as contiguous blocks (each ``shortlist × dim`` float32).
    """

    def __init__(
        self,
        encoder,
        pairs: Sequence[tuple[str, str]],
        shortlist: int = 100,
        persona_weight: float = 4.0,
        focus_temperature: float = 0.05,
        relevance_floor: float = 0.3,
        relevance_span: float = 0.15,
        cache_dir: Path | None = None,
        block_cache_size: int = 1024,
    ) -> None:
        if not pairs:
            raise InvalidArgumentError("pairs is empty; pass (context, response) utterance pairs.")
        self.encoder = encoder
        self.shortlist = min(shortlist, len(pairs))
        self.persona_weight = persona_weight
        self.focus_temperature = focus_temperature
        self.relevance_floor = relevance_floor
        self.relevance_span = relevance_span
        self._questions = RowCache((encoder.dim,), 50_000)
        # Per question: shortlisted pair indices and their topic scores.
        self._tops = RowCache((self.shortlist,), 50_000, np.int32)
        self._topics = RowCache((self.shortlist,), 50_000, np.float32)
        # Per question: the shortlisted responses' embeddings, contiguous. 1,024 blocks of
        # 100 × 384 float32 ≈ 150 MB at most; a 440-question bank uses 66 MB.
        self._blocks = RowCache((self.shortlist, encoder.dim), block_cache_size)
        self.persona_cache_size = 4096
        self._personas: OrderedDict[tuple[str, ...], np.ndarray] = OrderedDict()
        # A vector env's partners keep their personas all episode: stack them once.
        self._batch_facts = LastBatch(self._padded_facts)
        texts = list(dict.fromkeys(t for pair in pairs for t in pair))
        row = {t: i for i, t in enumerate(texts)}
        matrix = encoder.encode_corpus(texts, cache_dir, desc="retrieval pool")
        self.contexts = matrix[[row[c] for c, _ in pairs]]
        self.responses = matrix[[row[r] for _, r in pairs]]
        self.response_texts = [r for _, r in pairs]

    def warm(self, questions: Sequence[str]) -> None:
        """Shortlist ``questions`` ahead of time (say, an interviewer's whole bank).

        Each new question costs a pass over the pool's contexts (milliseconds); warming
        does all of them in a few matrix products, so a training run does not stall on
        every question it meets for the first time.
        """
        questions = list(dict.fromkeys(questions))
        for start in range(0, len(questions), 256):  # bounds the (chunk, pool) topic matrix
            chunk = questions[start : start + 256]
            self._shortlists(chunk, self._question_vectors(chunk))

    def _question_vectors(self, asked: Sequence[str]) -> np.ndarray:
        """Question embeddings from a small cache of their own: a bank's few hundred
        questions stay in CPU cache, where rows of the encoder's large cache do not."""
        missing = self._questions.missing(asked)
        if missing:
            self._questions.put(missing, self.encoder.encode(missing))
        return self._questions.get(asked)

    def _shortlists(self, asked: Sequence[str], vectors: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per question: the ``shortlist`` best-matching pairs and their topic scores.

        They depend on the question alone, and interviewers ask from a finite bank, so
        they are cached: a repeated question costs no pass over the pool. Returns two
        ``(len(asked), shortlist)`` arrays: pair indices and topic scores.
        """
        missing = self._tops.missing(asked)
        if missing:
            topic = vectors[[asked.index(q) for q in missing]] @ self.contexts.T  # one pass
            top = np.argpartition(-topic, self.shortlist - 1, axis=1)[:, : self.shortlist]
            self._tops.put(missing, top)
            self._topics.put(missing, np.take_along_axis(topic, top, axis=1))
        return self._tops.get(asked), self._topics.get(asked)

    def _block(self, question: str, top: np.ndarray) -> np.ndarray:
        """The shortlisted responses' embeddings as one contiguous ``(shortlist, dim)`` array.

        Gathering 100 scattered rows costs twice what reading a cached block does
        (measured: 28 vs 12 µs), so the blocks of recent questions are kept.
        """
        block = self._blocks.view(question)
        if block is None:
            self._blocks.put([question], self.responses[top][None])
            block = self._blocks.view(question)
        return block

    def _padded_facts(self, personas: Sequence[tuple[str, ...]]) -> tuple[np.ndarray, ...]:
        """``(N, most facts, dim)`` fact embeddings, zero-padded, and which entries are facts.

        A partner keeps its persona all episode long, so the fact matrices of recent
        personas are kept, each at its own size (one long persona must not widen every
        cached one): a step pads and stacks N cached arrays instead of encoding N
        personas, and a vector env reuses the stack while its episodes last.
        """
        cache = self._personas
        new = list(dict.fromkeys(p for p in personas if p not in cache))
        if new:
            vectors = self.encoder.encode([f for p in new for f in p])
            start = 0
            for persona in new:
                cache[persona] = vectors[start : start + len(persona)].copy()
                start += len(persona)
        for persona in personas:
            cache.move_to_end(persona)
        while len(cache) > self.persona_cache_size:
            cache.popitem(last=False)
        sizes = np.array([len(p) for p in personas])
        facts = padded_stack([cache[p] for p in personas], np.float32)
        return facts, np.arange(facts.shape[1]) < sizes[:, None]

    def respond(self, contexts: Sequence[DialogContext]) -> list[str]:
        if not contexts:
            return []
        ranking = self.rank(contexts)
        return self._unsaid(contexts, ranking.pairs, ranking.scores)

    def rank(self, contexts: Sequence[DialogContext]) -> Ranking:
        """Each context's shortlist of responses with their scores, and how relevant
        the question is to each persona fact (what :meth:`respond` chooses from)."""
        if not all(c.persona for c in contexts):
            raise InvalidArgumentError("RetrievalPartner needs a persona in every DialogContext.")
        asked = [last_utterance(c) for c in contexts]
        questions = self._question_vectors(asked)
        top, topic = self._shortlists(asked, questions)
        facts, present = self._batch_facts([c.persona for c in contexts])
        # einsum's own loops (not BLAS) keep each row's result independent of the batch.
        relevance = np.where(present, np.einsum("nfd,nd->nf", facts, questions), -np.inf)
        best = relevance.max(axis=1)
        focus = np.exp((relevance - best[:, None]) / self.focus_temperature)
        focus /= focus.sum(axis=1, keepdims=True)
        # (R @ F.T) @ w == R @ (F.T @ w): one focus-weighted fact vector per episode.
        wanted = np.einsum("nf,nfd->nd", focus, facts)
        # A question no fact is about gets an ordinary answer: people do not volunteer
        # their persona when asked something unrelated, so what to ask matters.
        gate = np.clip((best - self.relevance_floor) / self.relevance_span, 0, 1)
        fit = np.zeros_like(topic)
        for b in np.flatnonzero(gate).tolist():  # gate 0: the persona term is 0, skip it
            np.matmul(self._block(asked[b], top[b]), wanted[b], out=fit[b])
        return Ranking(top, topic + (self.persona_weight * gate)[:, None] * fit, relevance)

    def _unsaid(
        self, contexts: Sequence[DialogContext], top: np.ndarray, total: np.ndarray
    ) -> list[str]:
        """Per context, the best-scoring response not said before in its dialog."""
        texts = self.response_texts
        firsts = top[np.arange(len(top)), total.argmax(axis=1)].tolist()
        answers = [texts[i] for i in firsts]
        for b, context in enumerate(contexts):
            if answers[b] in context.history:  # rare: said before, walk down the ranking
                said = set(context.history)
                ranked = top[b][np.argsort(-total[b], kind="stable")]
                answers[b] = next((texts[i] for i in ranked if texts[i] not in said), answers[b])
        return answers


def question_sentences(
    utterances: Sequence[str], min_words: int = 3, max_words: int = 20
) -> list[str]:
    """Distinct question sentences ("i'm fine. do you have pets?" gives the second)."""
    found: dict[str, None] = {}
    for utterance in utterances:
        for sentence in _SENTENCE.findall(utterance):
            sentence = sentence.strip()
            if sentence.endswith("?") and min_words <= len(sentence.split()) <= max_words:
                found.setdefault(sentence, None)
    return list(found)


class RetrievalInterviewer:
    """An interviewer that asks a Persona-Chat question fitting its action code.

    The question bank is labelled zero-shot: each question goes to the goal whose
    description it is closest to, and each goal keeps its ``bank_size`` closest
    questions. A goal never seen before (a custom code) gets its bank on first use.
    No question is asked twice in one dialog.

    Args:
        encoder: The sentence encoder.
        utterances: Text to harvest questions from.
        goal_descriptions: ``{goal prompt: natural question on the topic}``.
        bank_size: Questions kept per goal.
        choices: A turn samples among the ``choices`` best unused questions (with the
            context's seed), so dialogs vary but stay on topic.
    """

    def __init__(
        self,
        encoder,
        utterances: Sequence[str],
        goal_descriptions: Mapping[str, str] | None = None,
        bank_size: int = 40,
        choices: int = 8,
        cache_dir: Path | None = None,
    ) -> None:
        self.encoder = encoder
        self.questions = question_sentences(utterances)
        if not self.questions:
            raise InvalidArgumentError(
                "utterances hold no question sentences to build a question bank from."
            )
        self.matrix = encoder.encode_corpus(self.questions, cache_dir, desc="question bank")
        self.bank_size = bank_size
        self.choices = choices
        self.goal_descriptions = dict(goal_descriptions or {})
        self._banks: dict[str, list[str]] = {}
        if self.goal_descriptions:
            self._label_banks(list(self.goal_descriptions))

    def _label_banks(self, goals: list[str]) -> None:
        descriptions = self.encoder.encode([self.goal_descriptions.get(g, g) for g in goals])
        sims = self.matrix @ descriptions.T  # (questions, goals)
        owner = sims.argmax(axis=1)
        for j, goal in enumerate(goals):
            mine = np.flatnonzero(owner == j)
            best = mine[np.argsort(-sims[mine, j], kind="stable")][: self.bank_size]
            self._banks[goal] = [self.questions[i] for i in best]

    def bank(self, goal: str) -> list[str]:
        """The questions this interviewer may ask for ``goal`` (best first)."""
        if goal not in self._banks:
            sims = self.matrix @ self.encoder.encode([self.goal_descriptions.get(goal, goal)])[0]
            best = np.argsort(-sims, kind="stable")[: self.bank_size]
            self._banks[goal] = [self.questions[i] for i in best]
        return self._banks[goal]

    def banked_questions(self) -> list[str]:
        """Every question in the banks built so far (one per goal, best first)."""
        return list(dict.fromkeys(q for bank in self._banks.values() for q in bank))

    def add_question(self, goal: str, question: str) -> None:
        """Put a person's question at the head of ``goal``'s bank; it is used from now on."""
        question = question.strip()
        if not question:
            raise InvalidArgumentError("question is empty; pass the question text to add.")
        bank = self.bank(goal)
        if question in bank:
            bank.remove(question)
        bank.insert(0, question)

    def respond(self, contexts: Sequence[DialogContext]) -> list[str]:
        out = []
        banks = self._banks
        for context in contexts:
            if not context.goal:
                raise InvalidArgumentError(
                    "RetrievalInterviewer needs DialogContext.goal (an action code)."
                )
            bank = banks.get(context.goal) or self.bank(context.goal)
            # At most len(history) bank questions were said, so the first `choices` unsaid
            # ones are within this head of the bank.
            history = context.history
            if history:  # a set: each of up to 2 x 8 bank questions is checked in O(1)
                said = set(history)
                head = bank[: self.choices + len(history)]
                pool = [q for q in head if q not in said][: self.choices] or bank[: self.choices]
            else:
                pool = bank[: self.choices]
            # The seed is a uniform draw, so its remainder picks uniformly (and costs
            # nothing, where building a Generator per turn cost more than the rest).
            out.append(pool[0] if context.seed is None else pool[context.seed % len(pool)])
        return out
