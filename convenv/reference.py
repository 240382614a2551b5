"""The human reference: how well the identifier reads real Persona-Chat speakers.

Every policy's accuracy is compared with this: the same identifier, the same number
of negatives, but the utterances are what a real person with that persona wrote.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convenv.fact_text import normalize_fact
from convenv.hard_negatives import HARD_POOL, nearest_to
from convenv.metrics import METRIC_NAMES, ranking_metrics
from convenv.personachat import Dialog, fact_pool, load_dialogs
from convenv.statistics import clustered_bootstrap, mean_of


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

    def __len__(self) -> int:
        return len(self.facts)

    def vectors(self, rows: np.ndarray, encoder) -> np.ndarray | None:
        """The embeddings of pool rows (``None`` if a row is -1, a fact outside the pool),
        from the pool's own matrix: small enough to stay in CPU cache, unlike the encoder's.
        """
        if self._encoder is not encoder:
            self._matrix, self._encoder = self._embedded(encoder), encoder
        return None if (rows < 0).any() else self._matrix[rows]

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
        vectors = encoder.encode(list(persona))
        rows: list[int] = []
        for fact, vector in zip(persona, vectors, strict=True):
            sims = self._topic_matrix @ vector
            rows += nearest_to(sims, fact, self.facts, HARD_POOL, HARD_POOL * 2)
        return rows

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


def identify_real_dialogs(
    identifier,
    dialogs: Sequence[Dialog] | None = None,
    n_utterances: Sequence[int] = (2, 4, 8),
    n_negatives: int = 20,
    seed: int = 0,
    hard_encoder=None,
) -> dict[int, dict[str, tuple[float, float, float]]]:
    """Identification accuracy on real dialogs after the first ``n`` utterances of a speaker.

    Both speakers of every dialog are identified in turn. Returns, per ``n``, each
    metric's ``(mean, ci_low, ci_high)`` (95% bootstrap over dialogs, both speakers of
    a dialog resampled together). ``hard_encoder`` draws hard (same-topic) negatives
    by that encoder; pass the same one to compare identifiers on the same negatives.
    """
    dialogs = list(dialogs) if dialogs is not None else load_dialogs("test")
    pool = CandidatePool(fact_pool([p for d in dialogs for p in (d.persona1, d.persona2) if p]))
    rng = np.random.default_rng(seed)
    cases = []
    clusters = []
    for k, dialog in enumerate(dialogs):
        for speaker in (1, 2):
            persona = dialog.persona_of(speaker)
            if persona:
                candidates, truth, _ = pool.draw(persona, n_negatives, rng, hard_encoder)
                cases.append((dialog.utterances_of(speaker), candidates, truth))
                clusters.append(k)
    # Embed every utterance and fact once, with a progress bar and the disk cache:
    # thousands of sentences take minutes the first time.
    if callable(getattr(identifier, "warm", None)):
        identifier.warm([u for said, _, _ in cases for u in said],
                        [c for _, candidates, _ in cases for c in candidates])  # fmt: skip
    results: dict[int, dict[str, tuple[float, float, float]]] = {}
    for n in n_utterances:
        scores = identifier.score_batch(
            [said[:n] for said, _, _ in cases], [c for _, c, _ in cases]
        )
        rows = [ranking_metrics(s, truth) for s, (_, _, truth) in zip(scores, cases, strict=True)]
        results[n] = {
            m: clustered_bootstrap(mean_of([r[m] for r in rows]), clusters, 1000, seed=seed)
            for m in METRIC_NAMES
        }
    return results
