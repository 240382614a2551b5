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


def nearest_facts(
    facts: Sequence[str], vectors: np.ndarray, pool: int = HARD_POOL, chunk: int = 1024
) -> list[list[int]]:
    """For each fact, the ``pool`` nearest other facts by cosine, nearest first, with
    paraphrases (cosine ≥ 0.9, or equal after :func:`normalize_fact`) left out."""
    normalized = [normalize_fact(f) for f in facts]
    reach = min(pool * 2 + 1, len(facts) - 1)
    table: list[list[int]] = []
    for start in range(0, len(facts), chunk):
        sims = vectors[start : start + chunk] @ vectors.T
        for row, i in enumerate(range(start, min(start + chunk, len(facts)))):
            order = np.argpartition(-sims[row], reach)[: reach + 1] if reach > 0 else []
            order = sorted(order, key=lambda j, r=row: (-sims[r, j], j))
            near = [
                int(j)
                for j in order
                if j != i
                and sims[row, j] < PARAPHRASE_SIMILARITY
                and normalized[j] != normalized[i]
            ]
            table.append(near[:pool])
    return table
