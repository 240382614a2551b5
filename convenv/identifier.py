"""Rank candidate persona facts by how well they match what the partner said."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from convenv.errors import InvalidArgumentError

AGGREGATIONS = ("max", "mean", "softmax", "top2")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_sentences(utterance: str) -> list[str]:
    """Persona-Chat turns often hold two sentences about two facts; score them apart."""
    return [s for s in (p.strip() for p in _SENTENCE_END.split(utterance)) if s]


class PersonaIdentifier:
    """Zero-shot identifier: cosine similarity of sentence embeddings, aggregated.

    Each candidate fact is compared with every sentence the partner said; the
    similarities are reduced to one score per fact by ``aggregation``:
    ``max`` (the best-matching sentence), ``mean``, ``top2`` (mean of the two best)
    or ``softmax`` (a temperature-0.05 log-sum-exp, a soft maximum).

    Args:
        encoder: Anything with ``encode(texts) -> (n, dim)`` unit vectors and ``dim``.
        aggregation: How sentence similarities become a fact score.
        sentences: Split utterances into sentences before scoring.
    """

    def __init__(self, encoder, aggregation: str = "max", sentences: bool = True) -> None:
        if aggregation not in AGGREGATIONS:
            raise InvalidArgumentError(f"aggregation={aggregation!r}; pass one of {AGGREGATIONS}.")
        self.encoder = encoder
        self.aggregation = aggregation
        self.sentences = sentences

    @property
    def dim(self) -> int:
        return int(self.encoder.dim)

    def _units(self, utterances: Sequence[str]) -> list[str]:
        if not self.sentences:
            return [u for u in utterances if u.strip()]
        return [s for u in utterances for s in split_sentences(u)]

    def warm(self, utterances: Sequence[str], facts: Sequence[str] = ()) -> None:
        """Embed everything a partner may say (and every candidate fact) ahead of time.

        With a fixed answer pool this moves all encoding out of ``env.step``: the
        cached corpus is loaded from disk on later runs.
        """
        units = list(dict.fromkeys(u for u in self._units(utterances)))
        self.encoder.encode_corpus(units, desc="answer sentences")
        if facts:
            self.encoder.encode_corpus(list(dict.fromkeys(facts)), desc="persona facts")

    def score_batch(
        self, utterances: Sequence[Sequence[str]], candidates: Sequence[Sequence[str]]
    ) -> list[np.ndarray]:
        """Scores for several episodes with one encoder call for all their texts."""
        if len(utterances) != len(candidates):
            raise InvalidArgumentError(
                f"{len(utterances)} utterance lists but {len(candidates)} candidate lists."
            )
        units = [self._units(u) for u in utterances]
        texts = list(dict.fromkeys(t for group in (*units, *candidates) for t in group))
        vectors = self.encoder.encode(texts) if texts else np.zeros((0, self.dim), np.float32)
        row = {t: i for i, t in enumerate(texts)}
        return [
            self._aggregate(vectors[[row[t] for t in cands]], vectors[[row[t] for t in said]])
            for said, cands in zip(units, candidates, strict=True)
        ]

    def score(self, utterances: Sequence[str], candidates: Sequence[str]) -> np.ndarray:
        """One score per candidate for one episode (zeros when nothing was said)."""
        return self.score_batch([utterances], [candidates])[0]

    def _aggregate(self, facts: np.ndarray, said: np.ndarray) -> np.ndarray:
        if len(said) == 0:
            return np.zeros(len(facts), dtype=np.float32)
        sims = facts @ said.T  # (n_candidates, n_sentences)
        if self.aggregation == "max":
            return sims.max(axis=1)
        if self.aggregation == "mean":
            return sims.mean(axis=1)
        if self.aggregation == "top2":
            k = min(2, sims.shape[1])
            return np.sort(sims, axis=1)[:, -k:].mean(axis=1)
        temperature = 0.05
        peak = sims.max(axis=1, keepdims=True)
        return peak[:, 0] + temperature * np.log(np.exp((sims - peak) / temperature).sum(axis=1))
