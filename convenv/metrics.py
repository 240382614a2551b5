"""Persona-identification metrics over a ranking of candidate facts (one place for all).

Definitions follow convogym (the PersonaGPT authors' gym): precision@k is the number
of true facts among the top k divided by k; recall@k divides the same count by the
number of true facts. MRR is the reciprocal rank of the best-ranked true fact. AUC is
the fraction of (true, wrong) fact pairs ranked the right way round: a smooth reward
that credits every fact revealed, not just those crossing a top-k boundary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from convenv.errors import InvalidArgumentError

METRIC_NAMES: tuple[str, ...] = (
    "precision@1", "precision@5", "recall@5", "recall@10", "mrr", "auc",
)  # fmt: skip


def rank_order(scores: np.ndarray) -> np.ndarray:
    """Candidate indices from best to worst; ties keep candidate order (stable)."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


def ranking_metrics(
    scores: Sequence[float] | np.ndarray, is_true: Sequence[bool]
) -> dict[str, float]:
    """All identification metrics for one ranking.

    Args:
        scores: One score per candidate; higher means more likely a true fact.
        is_true: Whether each candidate is one of the partner's facts.
    """
    scores = np.asarray(scores, dtype=np.float64)
    truth = np.asarray(is_true, dtype=bool)
    if scores.shape != truth.shape or scores.ndim != 1:
        raise InvalidArgumentError(
            f"scores shape {scores.shape} and is_true shape {truth.shape} "
            "must be the same 1-D shape."
        )
    n_true = int(truth.sum())
    if n_true == 0:
        raise InvalidArgumentError(
            "is_true has no true candidate; identification needs at least one."
        )
    hits = truth[rank_order(scores)]

    def precision(k: int) -> float:
        return float(hits[:k].sum()) / k

    def recall(k: int) -> float:
        return float(hits[:k].sum()) / n_true

    return {
        "precision@1": precision(1),
        "precision@5": precision(5),
        "recall@5": recall(5),
        "recall@10": recall(10),
        "mrr": 1.0 / (int(np.argmax(hits)) + 1),
        "auc": _pairwise_auc(hits),
    }


def _pairwise_auc(hits: np.ndarray) -> float:
    """Fraction of (true, wrong) pairs where the true fact ranks higher."""
    n_true, n_wrong = int(hits.sum()), int((~hits).sum())
    if n_wrong == 0:
        return 1.0
    wrong_below = np.cumsum((~hits)[::-1])[::-1]  # wrong facts at or below each position
    return float(wrong_below[hits].sum()) / (n_true * n_wrong)


def mean_metrics(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Average each metric over episodes."""
    if not rows:
        raise InvalidArgumentError("mean_metrics needs at least one row of metrics.")
    return {name: float(np.mean([row[name] for row in rows])) for name in rows[0]}


def bootstrap_ci(
    values: Sequence[float], n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap confidence interval ``(mean, low, high)``."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise InvalidArgumentError("bootstrap_ci needs at least one value.")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(n_resamples, values.size))].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(values.mean()), float(low), float(high)


def check_metric_name(name: str, argument: str = "metric") -> str:
    if name not in METRIC_NAMES:
        raise InvalidArgumentError(f"{argument}={name!r}; pass one of {METRIC_NAMES}.")
    return name
