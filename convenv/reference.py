"""The human reference: how well the identifier reads real Persona-Chat speakers.

Every policy's accuracy is compared with this: the same identifier, the same number
of negatives, but the utterances are what a real person with that persona wrote.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convenv.metrics import METRIC_NAMES, bootstrap_ci, ranking_metrics
from convenv.personachat import Dialog, fact_pool, load_dialogs


def sample_candidates(
    persona: Sequence[str], pool: Sequence[str], n_negatives: int, rng: np.random.Generator
) -> tuple[tuple[str, ...], np.ndarray]:
    """The persona facts plus ``n_negatives`` others, shuffled: ``(candidates, is_true)``.

    Shuffling matters: a ranking that ties (nothing said yet) must not favour true facts.
    """
    own = set(persona)
    others = [f for f in pool if f not in own]
    picks = rng.choice(len(others), size=min(n_negatives, len(others)), replace=False)
    candidates = [*persona, *(others[i] for i in picks)]
    truth = np.array([True] * len(persona) + [False] * len(picks))
    order = rng.permutation(len(candidates))
    return tuple(candidates[i] for i in order), truth[order]


def identify_real_dialogs(
    identifier,
    dialogs: Sequence[Dialog] | None = None,
    n_utterances: Sequence[int] = (2, 4, 8),
    n_negatives: int = 20,
    seed: int = 0,
) -> dict[int, dict[str, tuple[float, float, float]]]:
    """Identification accuracy on real dialogs after the first ``n`` utterances of a speaker.

    Both speakers of every dialog are identified in turn. Returns, per ``n``, each
    metric's ``(mean, ci_low, ci_high)`` (95% bootstrap).
    """
    dialogs = list(dialogs) if dialogs is not None else load_dialogs("test")
    pool = fact_pool([p for d in dialogs for p in (d.persona1, d.persona2) if p])
    rng = np.random.default_rng(seed)
    cases = []
    for dialog in dialogs:
        for speaker in (1, 2):
            persona = dialog.persona_of(speaker)
            if persona:
                cases.append(
                    (
                        dialog.utterances_of(speaker),
                        *sample_candidates(persona, pool, n_negatives, rng),
                    )
                )
    results: dict[int, dict[str, tuple[float, float, float]]] = {}
    for n in n_utterances:
        scores = identifier.score_batch(
            [said[:n] for said, _, _ in cases], [c for _, c, _ in cases]
        )
        rows = [ranking_metrics(s, truth) for s, (_, _, truth) in zip(scores, cases, strict=True)]
        results[n] = {m: bootstrap_ci([r[m] for r in rows]) for m in METRIC_NAMES}
    return results
