"""Offline agents that speak in Persona-Chat utterances, chosen by sentence similarity."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from agents.base import DialogContext, last_utterance

_SENTENCE = re.compile(r"[^.!?]*[.!?]+")


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
        encoder: A :class:`~agents.sentence_encoder.SentenceEncoder` (or anything with
            ``encode`` and ``encode_corpus``).
        pairs: ``(context, response)`` utterance pairs.
        shortlist: How many topic matches are re-ranked by persona.
        persona_weight: Weight of persona similarity against topic similarity.
        cache_dir: Where the pool's embedding matrix is cached.
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
    ) -> None:
        if not pairs:
            raise ValueError("pairs is empty; pass (context, response) utterance pairs.")
        self.encoder = encoder
        self.shortlist = min(shortlist, len(pairs))
        self.persona_weight = persona_weight
        self.focus_temperature = focus_temperature
        self.relevance_floor = relevance_floor
        self.relevance_span = relevance_span
        self.topic_cache_size = 50_000
        self._topic_cache: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        texts = list(dict.fromkeys(t for pair in pairs for t in pair))
        row = {t: i for i, t in enumerate(texts)}
        matrix = encoder.encode_corpus(texts, cache_dir, desc="retrieval pool")
        self.contexts = matrix[[row[c] for c, _ in pairs]]
        self.responses = matrix[[row[r] for _, r in pairs]]
        self.response_texts = [r for _, r in pairs]

    def _shortlists(
        self, asked: Sequence[str], vectors: np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per question: the ``shortlist`` best-matching pairs and their topic scores.

        They depend on the question alone, and interviewers ask from a finite bank, so
        they are cached: a repeated question costs no pass over the pool.
        """
        missing = [i for i, q in enumerate(asked) if q not in self._topic_cache]
        if missing:
            topic = vectors[missing] @ self.contexts.T  # one pass for the whole batch
            top = np.argpartition(-topic, self.shortlist - 1, axis=1)[:, : self.shortlist]
            for row, i in enumerate(missing):
                self._topic_cache[asked[i]] = (top[row], topic[row, top[row]])
            while len(self._topic_cache) > self.topic_cache_size:
                self._topic_cache.popitem(last=False)
        return [self._topic_cache[q] for q in asked]

    def respond(self, contexts: Sequence[DialogContext]) -> list[str]:
        for c in contexts:
            if not c.persona:
                raise ValueError("RetrievalPartner needs a persona in every DialogContext.")
        asked = [last_utterance(c) for c in contexts]
        questions = self.encoder.encode(asked)
        shortlists = self._shortlists(asked, questions)
        facts = [list(c.persona) for c in contexts]
        fact_vectors = self.encoder.encode([f for group in facts for f in group])
        answers, start = [], 0
        for b, context in enumerate(contexts):
            own = fact_vectors[start : start + len(facts[b])]
            start += len(facts[b])
            top, topic = shortlists[b]
            relevance = own @ questions[b]
            focus = np.exp((relevance - relevance.max()) / self.focus_temperature)
            persona_fit = (self.responses[top] @ own.T) @ (focus / focus.sum())
            # A question no fact is about gets an ordinary answer: people do not volunteer
            # their persona when asked something unrelated, so what to ask matters.
            gate = np.clip((relevance.max() - self.relevance_floor) / self.relevance_span, 0, 1)
            total = topic + self.persona_weight * gate * persona_fit
            said = set(context.history)
            for i in top[np.argsort(-total, kind="stable")]:
                if self.response_texts[i] not in said:
                    answers.append(self.response_texts[i])
                    break
            else:
                answers.append(self.response_texts[top[int(np.argmax(total))]])
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
            raise ValueError("utterances hold no question sentences to build a question bank from.")
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

    def add_question(self, goal: str, question: str) -> None:
        """Put a person's question at the head of ``goal``'s bank; it is used from now on."""
        question = question.strip()
        if not question:
            raise ValueError("question is empty; pass the question text to add.")
        bank = self.bank(goal)
        if question in bank:
            bank.remove(question)
        bank.insert(0, question)

    def respond(self, contexts: Sequence[DialogContext]) -> list[str]:
        out = []
        for context in contexts:
            if not context.goal:
                raise ValueError("RetrievalInterviewer needs DialogContext.goal (an action code).")
            asked = set(context.history)
            fresh = [q for q in self.bank(context.goal) if q not in asked] or self.bank(
                context.goal
            )
            pool = fresh[: self.choices]
            if context.seed is None:
                out.append(pool[0])
            else:
                out.append(pool[int(np.random.default_rng(context.seed).integers(len(pool)))])
        return out
