"""The candidate pool: the facts an episode's wrong candidates are drawn from.

A random wrong fact is usually about another topic, so any answer on the right topic
outranks it; a *hard* negative (the facts of other personas nearest a true one, "i
have a cat." for "i have a dog.") is only outranked when the answer says which.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convenv.vocabulary import PARAPHRASE_SIMILARITY, normalize_fact

# How many nearest facts a fact's hard negatives are drawn from.
HARD_POOL = 30


def nearest_to(
    similarities: np.ndarray, fact: str, facts: Sequence[str], pool: int, reach: int
) -> list[int]:
    """Rows of the ``pool`` facts most similar to ``fact`` (``similarities`` over
    ``facts``), nearest first, among the ``reach + 1`` nearest; paraphrases of it
    (cosine ≥ 0.9, or equal after :func:`normalize_fact`, so ``fact`` itself too) are
    left out."""
    reach = min(reach, len(facts) - 1)
    if reach <= 0:
        return []
    order = np.argpartition(-similarities, reach)[: reach + 1]
    order = sorted(order.tolist(), key=lambda j: (-similarities[j], j))
    own = normalize_fact(fact)
    near = [
        j
        for j in order
        if similarities[j] < PARAPHRASE_SIMILARITY and normalize_fact(facts[j]) != own
    ]
    return near[:pool]


def nearest_facts(
    facts: Sequence[str], vectors: np.ndarray, pool: int = HARD_POOL, chunk: int = 1024
) -> list[list[int]]:
    """For each fact, the ``pool`` nearest other facts by cosine (see :func:`nearest_to`)."""
    table: list[list[int]] = []
    for start in range(0, len(facts), chunk):
        sims = vectors[start : start + chunk] @ vectors.T
        for row, i in enumerate(range(start, min(start + chunk, len(facts)))):
            # One more than the pool: the fact itself is among its own nearest.
            table.append(nearest_to(sims[row], facts[i], facts, pool, pool * 2 + 1))
    return table


class CandidatePool:
    """The facts wrong candidates are drawn from, indexed once for fast episode resets.

    Negatives are drawn by rejection sampling over row numbers, not by a pass over
    the pool's thousands of strings, so a reset costs microseconds however large the
    pool; ``vectors`` serves candidate embeddings from the pool's own small matrix.
    """

    def __init__(self, facts: Sequence[str]) -> None:
        self.facts = tuple(dict.fromkeys(facts))
        self._row = {fact: i for i, fact in enumerate(self.facts)}
        # Facts that read the same ("i'm a nurse." / "i am a nurse") are one fact: a
        # copy of a true fact is never drawn as a wrong one.
        self._same: dict[str, list[int]] = {}
        for i, fact in enumerate(self.facts):
            self._same.setdefault(normalize_fact(fact), []).append(i)
        self._encoder = None
        self._matrix: np.ndarray | None = None
        self._topic_encoder = None
        self._topic_matrix: np.ndarray | None = None
        # fact -> its nearest rows: a fact's neighbours never change, and resets, the
        # judge's profiles and swap impostors ask for the same facts again and again.
        self._nearest: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self.facts)

    def vectors(self, rows: np.ndarray, encoder) -> np.ndarray | None:
        """The embeddings of pool rows (``None`` if a row is -1, a fact outside the pool),
        from the pool's own matrix: small enough to stay in CPU cache, unlike the encoder's.
        """
        matrix = self.matrix(encoder)
        return None if (rows < 0).any() else matrix[rows]

    def matrix(self, encoder) -> np.ndarray:
        """Every pool fact embedded by ``encoder``, ``(len(pool), dim)`` (kept)."""
        if self._encoder is not encoder:
            self._matrix, self._encoder = self._embedded(encoder), encoder
        return self._matrix

    def _embedded(self, encoder) -> np.ndarray:
        """The pool's facts embedded by ``encoder``, reusing the other matrix when the
        identifier's and the topic encoder are the same one (the usual case)."""
        if self._encoder is encoder and self._matrix is not None:
            return self._matrix
        if self._topic_encoder is encoder and self._topic_matrix is not None:
            return self._topic_matrix
        return encoder.encode(self.facts)

    def nearest_rows(self, persona: Sequence[str], encoder) -> list[int]:
        """Pool rows of the facts nearest each persona fact (paraphrases excluded)."""
        # Its own matrix: the topic encoder may differ from the identifier's.
        if self._topic_encoder is not encoder:
            self._topic_matrix, self._topic_encoder = self._embedded(encoder), encoder
            self._nearest.clear()
        missing = [f for f in dict.fromkeys(persona) if f not in self._nearest]
        if missing:
            for fact, vector in zip(missing, encoder.encode(missing), strict=True):
                sims = self._topic_matrix @ vector
                self._nearest[fact] = nearest_to(sims, fact, self.facts, HARD_POOL, HARD_POOL * 2)
        return [row for fact in persona for row in self._nearest[fact]]

    def nearest(self, fact: str, encoder) -> list[str]:
        """The facts nearest ``fact`` by ``encoder``, nearest first (paraphrases excluded)."""
        return [self.facts[r] for r in self.nearest_rows((fact,), encoder)]

    def sample(
        self, persona: Sequence[str], n_negatives: int, rng: np.random.Generator
    ) -> tuple[tuple[str, ...], np.ndarray]:
        """The persona facts plus ``n_negatives`` others, shuffled: ``(candidates, is_true)``.

        Shuffling matters: a ranking that ties (nothing said yet) must not favour true facts.
        """
        candidates, is_true, _ = self.draw(persona, n_negatives, rng)
        return candidates, is_true

    def draw(
        self,
        persona: Sequence[str],
        n_negatives: int,
        rng: np.random.Generator,
        hard_encoder=None,
    ) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
        """:meth:`sample`, plus each candidate's pool row (-1 for a fact outside the pool)
        so that its embedding is one index away (see :meth:`vectors`).

        With ``hard_encoder`` the negatives are *hard*: drawn from the facts nearest
        each true fact by that encoder (paraphrases excluded), topped up at random
        only if those run out.
        """
        persona_rows = [self._row.get(f, -1) for f in persona]
        taken = set(persona_rows)
        taken.discard(-1)
        for fact in persona:
            taken.update(self._same.get(normalize_fact(fact), ()))
        wanted = min(n_negatives, len(self.facts) - len(taken))
        picks: list[int] = []
        if hard_encoder is not None:
            near = [
                r for r in dict.fromkeys(self.nearest_rows(persona, hard_encoder)) if r not in taken
            ]
            picks = [near[i] for i in sorted(rng.permutation(len(near))[:wanted].tolist())]
            taken.update(picks)
        # Rejection sampling: a few integer draws, where choice(replace=False) would
        # permute the whole pool of thousands of facts on every reset.
        while len(picks) < wanted:
            # Scaled uniforms: Generator.random is several times cheaper than .integers.
            uniforms = rng.random(wanted - len(picks) + 8)
            draws = (uniforms * len(self.facts)).astype(np.int64).tolist()
            new = [i for i in dict.fromkeys(draws) if i not in taken]  # distinct, unused
            taken.update(new)
            picks += new
        del picks[wanted:]
        pooled = [*persona, *map(self.facts.__getitem__, picks)]
        order = rng.permutation(len(pooled))
        candidates = tuple(map(pooled.__getitem__, order.tolist()))
        rows = np.array(persona_rows + picks, np.intp)[order]
        return candidates, order < len(persona), rows


def sample_candidates(
    persona: Sequence[str], pool: Sequence[str], n_negatives: int, rng: np.random.Generator
) -> tuple[tuple[str, ...], np.ndarray]:
    """One draw of :meth:`CandidatePool.sample` (index the pool once for many draws)."""
    return CandidatePool(pool).sample(persona, n_negatives, rng)
