"""The human reference: how well the identifier reads real Persona-Chat speakers.

Every policy's accuracy is compared with this: the same identifier, the same number
of negatives, but the utterances are what a real person with that persona wrote.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convenv.candidates import CandidatePool
from convenv.metrics import METRIC_NAMES, ranking_metrics
from convenv.personachat import Dialog, fact_pool, load_dialogs
from convenv.statistics import clustered_bootstrap, mean_of


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
