"""Honest intervals: bootstrap over personas, not episodes, and paired differences.

Episodes of one persona are correlated (same facts, same candidates' topics), so
resampling episodes gives intervals about half as wide as the data supports. Every
benchmark interval here resamples *personas* (clusters) with all their episodes,
through ``scipy.stats.bootstrap``; a difference between two policies is computed on
the same resampled personas (paired).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from convenv.errors import InvalidArgumentError

Statistic = Callable[[np.ndarray], float]


def clustered_bootstrap(
    statistic: Statistic,
    clusters: Sequence[int] | np.ndarray,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(value, low, high)`` of ``statistic`` with a percentile interval over clusters.

    Args:
        statistic: Maps an array of episode indices (with repeats) to a number.
        clusters: The cluster (persona) of each episode.
        n_resamples: Bootstrap resamples.
        confidence: Interval coverage.
        seed: Makes the interval reproducible.
    """
    from scipy.stats import bootstrap

    clusters = np.asarray(clusters)
    if clusters.ndim != 1 or clusters.size == 0:
        raise InvalidArgumentError("clusters must be a non-empty 1-D array, one per episode.")
    _, inverse = np.unique(clusters, return_inverse=True)
    members = [np.flatnonzero(inverse == c) for c in range(inverse.max() + 1)]
    value = float(statistic(np.arange(clusters.size)))
    if len(members) < 2:
        return value, value, value

    def resampled(chosen: np.ndarray) -> float:
        return float(statistic(np.concatenate([members[int(c)] for c in chosen])))

    result = bootstrap(
        (np.arange(len(members)),),
        resampled,
        vectorized=False,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return value, float(result.confidence_interval.low), float(result.confidence_interval.high)


def mean_of(values: Sequence[float] | np.ndarray) -> Statistic:
    """A statistic: the mean of ``values`` over the chosen episodes."""
    values = np.asarray(values, np.float64)
    return lambda idx: float(values[idx].mean())


def ratio_of(numerators: Sequence[float], denominators: Sequence[float]) -> Statistic:
    """A statistic: ``sum(numerators) / sum(denominators)`` over the chosen episodes (a
    rate over events that episodes hold different numbers of; 0 when there are none)."""
    top, bottom = np.asarray(numerators, np.float64), np.asarray(denominators, np.float64)
    return lambda idx: float(top[idx].sum() / bottom[idx].sum()) if bottom[idx].sum() else 0.0


def difference_of(first: Statistic, second: Statistic) -> Statistic:
    """A statistic: ``first − second`` on the same episodes (a paired difference)."""
    return lambda idx: first(idx) - second(idx)
