"""Same-topic wrong facts: the nearest facts of other personas, paraphrases excluded.

A random wrong fact is usually about another topic, so any answer on the right
topic outranks it; a hard negative ("i have a cat." for "i have a dog.") is only
outranked when the answer says which.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convenv.fact_text import normalize_fact

# A fact this close to another is a paraphrase of it, not a different fact.
PARAPHRASE_SIMILARITY = 0.9
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
