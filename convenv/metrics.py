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


def _as_rankings(scores, is_true, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64)
    truth = np.asarray(is_true, dtype=bool)
    if scores.shape != truth.shape or scores.ndim != ndim:
        shape = "1-D" if ndim == 1 else "(N, C)"
        raise InvalidArgumentError(
            f"scores shape {scores.shape} and is_true shape {truth.shape} "
            f"must be the same {shape} shape."
        )
    return scores, truth


def ranking_metrics(
    scores: Sequence[float] | np.ndarray, is_true: Sequence[bool]
) -> dict[str, float]:
    """All identification metrics for one ranking.

    Args:
        scores: One score per candidate; higher means more likely a true fact.
        is_true: Whether each candidate is one of the partner's facts.
    """
    scores, truth = _as_rankings(scores, is_true, ndim=1)
    batch = ranking_metrics_batch(scores[None], truth[None])
    return {name: float(values[0]) for name, values in batch.items()}


def ranking_metrics_batch(
    scores: np.ndarray, is_true: np.ndarray, valid: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """The metrics of N rankings at once: one array of N values per metric.

    Args:
        scores: ``(N, C)`` scores; rows with fewer candidates are padded.
        is_true: ``(N, C)`` whether each candidate is a true fact (False on padding).
        valid: ``(N, C)`` which entries are real candidates (default: all).
    """
    scores, truth = _as_rankings(scores, is_true, ndim=2)
    valid = np.ones_like(truth) if valid is None else np.asarray(valid, dtype=bool)
    truth = truth & valid
    n_true = truth.sum(axis=1)
    if (n_true == 0).any():
        raise InvalidArgumentError(
            "is_true has no true candidate; identification needs at least one."
        )
    # Padding sorts last; ties keep candidate order (stable), so a ranking that ties
    # (nothing said yet) favours whatever came first in the shuffled candidates.
    order = np.argsort(np.where(valid, -scores, np.inf), axis=1, kind="stable")
    hits = np.take_along_axis(truth, order, axis=1)
    top = np.cumsum(hits, axis=1)  # true facts within the first k, for every k
    columns = hits.shape[1]

    def found(k: int) -> np.ndarray:
        return top[:, min(k, columns) - 1].astype(np.float64)

    support = fact_support(scores, truth, valid)
    auc = np.where(truth, support, 0.0).sum(axis=1) / n_true
    return {
        "precision@1": found(1) / 1,
        "precision@5": found(5) / 5,
        "recall@5": found(5) / n_true,
        "recall@10": found(10) / n_true,
        "mrr": 1.0 / (np.argmax(hits, axis=1) + 1),
        "auc": auc,
    }


def fact_support(scores: np.ndarray, is_true: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """For each true candidate, the fraction of wrong candidates it outscores.

    Ties count one half, as in scikit-learn's ``roc_auc_score``, so scores that all tie
    (nothing said yet) give 0.5, not a value set by the candidates' order. The mean
    over true candidates is the AUC. Returns ``(N, C)``, 1.0 where there is no wrong
    candidate and 0 on wrong or padded entries.
    """
    scores = np.asarray(scores, dtype=np.float64)
    wrong = valid & ~is_true
    above = scores[:, :, None] > scores[:, None, :]
    tied = scores[:, :, None] == scores[:, None, :]
    beaten = ((above + 0.5 * tied) * wrong[:, None, :]).sum(axis=2)
    n_wrong = wrong.sum(axis=1, keepdims=True)
    share = np.where(n_wrong > 0, beaten / np.maximum(n_wrong, 1), 1.0)
    return np.where(is_true & valid, share, 0.0)


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
