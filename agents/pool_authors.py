"""Who wrote each pool response, so a partner never speaks in the words of people who
had its own persona facts.

Persona-Chat's train personas are recombinations of one bank of facts: 94% of the
facts of a train persona outside the default pool's dialogs are, word for word, facts
of some persona inside them, against 8% of a test persona's. The pool therefore holds
how people who *had* a train fact said it ("i have a black lab named max" for "i've a
black lab"), but nothing of the kind for a test fact. A partner drawing on the whole
pool states train facts more strongly and answers questions about them more often
than test facts (measured under replay, for the calibrated partner: it stated the
asked-about fact on 83% of such turns in held-out train dialogs and 75% in test ones),
so a partner calibrated on train dialogs, or a policy trained on train personas,
meets an easier partner than the test personas give.

:class:`PoolAuthors` removes that head start: for a persona, it marks the responses
whose author shares a fact with it, and the sentences that nobody else wrote. A
partner that skips them treats every persona as one it has never heard of.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from convenv.errors import InvalidArgumentError
from convenv.vocabulary import normalize_fact


class PoolAuthors:
    """The author persona of every pool response (aligned with the partner's responses).

    Args:
        authors: One persona (its facts) per response, in the pool's order; an empty
            tuple where the author is unknown (never excluded).
        cache_size: How many personas' exclusions are kept.
    """

    def __init__(self, authors: Sequence[Sequence[str]], cache_size: int = 256) -> None:
        if not len(authors):
            raise InvalidArgumentError(
                "authors is empty; pass one persona per pool response (the speaker who wrote it)."
            )
        self._by_fact: dict[str, list[int]] = {}  # normalized fact -> rows of its writers
        for row, persona in enumerate(authors):
            for fact in dict.fromkeys(normalize_fact(f) for f in persona):
                self._by_fact.setdefault(fact, []).append(row)
        self.size = len(authors)
        self.cache_size = cache_size
        self._responses: OrderedDict[tuple[str, ...], np.ndarray] = OrderedDict()
        self._sentences: OrderedDict[tuple[str, ...], np.ndarray] = OrderedDict()
        self._occurrences: tuple[np.ndarray, np.ndarray, int] | None = None

    def excluded_responses(self, persona: Sequence[str]) -> np.ndarray:
        """``(responses,)`` bool: written by a speaker who shares a fact with ``persona``."""
        key = tuple(persona)
        found = self._responses.get(key)
        if found is None:
            found = np.zeros(self.size, bool)
            for fact in persona:
                rows = self._by_fact.get(normalize_fact(fact))
                if rows:
                    found[rows] = True
            self._remember(self._responses, key, found)
        return found

    def index_sentences(self, sentence_of_response: Sequence[Sequence[int]]) -> None:
        """Which sentences (by index) each response holds, for :meth:`excluded_sentences`."""
        if len(sentence_of_response) != self.size:
            raise InvalidArgumentError(
                f"sentence_of_response has {len(sentence_of_response)} rows for {self.size} "
                "responses; pass one list of sentence indices per pool response."
            )
        sizes = np.array([len(s) for s in sentence_of_response], np.int64)
        sentences = np.fromiter(
            (i for s in sentence_of_response for i in s), np.int64, int(sizes.sum())
        )
        count = int(sentences.max()) + 1 if len(sentences) else 0
        # Response r's sentences are sentences[starts[r]:starts[r + 1]].
        starts = np.concatenate([[0], np.cumsum(sizes)])
        self._occurrences = (starts, sentences, np.bincount(sentences, minlength=count))
        self._sentences.clear()

    def excluded_sentences(self, persona: Sequence[str]) -> np.ndarray:
        """``(sentences,)`` bool: every response that holds the sentence is excluded for
        ``persona`` (a sentence somebody else also wrote stays)."""
        if self._occurrences is None:
            raise InvalidArgumentError("call index_sentences before excluded_sentences.")
        key = tuple(persona)
        found = self._sentences.get(key)
        if found is None:
            starts, sentences, occurrences = self._occurrences
            # Only the few excluded responses are read: a sentence is excluded when all
            # of its occurrences are theirs.
            excluded = np.flatnonzero(self.excluded_responses(persona))
            lengths = starts[excluded + 1] - starts[excluded]
            at = np.repeat(starts[excluded] - np.cumsum(lengths) + lengths, lengths)
            theirs = sentences[at + np.arange(int(lengths.sum()))]
            rows, counts = np.unique(theirs, return_counts=True)
            found = occurrences == 0  # in no response at all: nobody else wrote it either
            found[rows[counts == occurrences[rows]]] = True
            self._remember(self._sentences, key, found)
        return found

    def _remember(self, cache: OrderedDict, key: tuple[str, ...], value: np.ndarray) -> None:
        cache[key] = value
        if len(cache) > self.cache_size:
            cache.popitem(last=False)
