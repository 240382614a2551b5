"""The fact vocabulary that speakers and their evaluators share.

When does a sentence state a persona fact, when is a question about one, when are two
facts the same fact? A partner uses these to decide what to say and the fidelity
report uses them to measure what was said, so both read them from here and neither
owns them: changing how a partner is measured never changes how it speaks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

# A sentence this close to a fact (MiniLM cosine) states it.
REVEAL_SIMILARITY = 0.5
# A question this close to a fact is about it (the retrieval partner's relevance gate
# is fully open here).
ABOUT_SIMILARITY = 0.45
# A fact this close to another is a paraphrase of it, not a different fact.
PARAPHRASE_SIMILARITY = 0.9

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_CONTRACTIONS = {
    "i'm": "i am", "i've": "i have", "i'd": "i would", "i'll": "i will",
    "don't": "do not", "doesn't": "does not", "didn't": "did not", "can't": "cannot",
    "won't": "will not", "isn't": "is not", "aren't": "are not", "wasn't": "was not",
    "it's": "it is", "that's": "that is", "he's": "he is", "she's": "she is",
    "they're": "they are", "we're": "we are", "you're": "you are",
    "im": "i am", "ive": "i have", "dont": "do not", "cant": "cannot",
}  # fmt: skip
_WORD = re.compile(r"[a-z0-9']+")


@lru_cache(maxsize=100_000)  # retrieval partners repeat pool responses: split each once
def split_sentences(utterance: str) -> tuple[str, ...]:
    """Persona-Chat turns often hold two sentences about two facts; score them apart."""
    return tuple(s for s in (p.strip() for p in _SENTENCE_END.split(utterance)) if s)


@lru_cache(maxsize=200_000)
def normalize_fact(text: str) -> str:
    """A fact as a reader compares it: lower case, contractions expanded, punctuation
    and extra spaces dropped ("i'm a nurse." and "i am a nurse" are one fact)."""
    words = [_CONTRACTIONS.get(w, w) for w in _WORD.findall(text.lower().replace("’", "'"))]
    return " ".join(w.replace("'", "") for w in words)


class TurnReveals(NamedTuple):
    """Per answer, in dialog order (boolean arrays, one entry per answer)."""

    about: np.ndarray  # its question is about one of the persona's facts
    answered: np.ndarray  # it states the fact its question is nearest
    another: np.ndarray  # it states another fact
    restated: np.ndarray  # it states facts, all of them stated by earlier answers


def turn_reveals(
    encoder,
    persona: Sequence[str],
    questions: Sequence[str],
    answers: Sequence[str],
    threshold: float = REVEAL_SIMILARITY,
) -> TurnReveals:
    """What each answer states (see :class:`TurnReveals`; a question is about the fact
    nearest it when their cosine is at least ``ABOUT_SIMILARITY``)."""
    if not answers:
        empty = np.zeros(0, bool)
        return TurnReveals(empty, empty, empty, empty)
    facts = encoder.encode(list(persona))
    relevance = encoder.encode(list(questions)) @ facts.T  # (turns, facts)
    target = relevance.argmax(axis=1)
    about = relevance[np.arange(len(answers)), target] >= ABOUT_SIMILARITY
    answered, another, restated = [], [], []
    before = np.zeros(len(persona), bool)
    for turn, answer in enumerate(answers):
        sentences = list(split_sentences(answer)) or [answer]
        stated = (facts @ encoder.encode(sentences).T).max(axis=1) >= threshold
        answered.append(bool(stated[target[turn]]))
        others = np.delete(stated, target[turn]) if about[turn] else stated
        another.append(bool(others.any()))
        restated.append(bool(stated.any() and not (stated & ~before).any()))
        before |= stated
    return TurnReveals(about, np.array(answered), np.array(another), np.array(restated))


@dataclass
class Evidence:
    """How an answer relates to one persona: the best own-fact similarity and the best
    similarity to another persona's same-topic fact, for the own fact it is nearest."""

    own: float
    other: float


@dataclass(frozen=True)
class PartEvidence:
    """Per persona fact: the best similarity of some sentence of a text to the fact
    (``own``) and to the fact's other-persona versions (``other``, -1 without any).

    The evidence of texts said together is the element-wise maximum of theirs (``|``),
    exactly: every similarity is one einsum dot product, whatever else it is computed
    with, so a partner can judge "answer + fact" from what it knows of each part.
    """

    own: np.ndarray
    other: np.ndarray

    def __or__(self, more: PartEvidence) -> PartEvidence:
        return PartEvidence(np.maximum(self.own, more.own), np.maximum(self.other, more.other))

    def evidence(self) -> Evidence:
        """The evidence for the own fact the text is nearest (the first of equals)."""
        best = int(self.own.argmax())
        return Evidence(float(self.own[best]), float(self.other[best]))
