"""Scoring authentication: how well final support separates genuine partners from impostors.

Each episode ends with a support score for its claim and a truth (genuine or not).
ROC-AUC is threshold-free; the equal error rate is where false accepts equal false
rejects; accuracy needs a threshold, which is calibrated on other episodes (train
personas) and then applied unchanged to the test personas.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convenv.errors import InvalidArgumentError

AUTHENTICATION_METRICS = ("roc_auc", "eer", "accuracy")


def _checked(scores, genuine) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, np.float64)
    genuine = np.asarray(genuine, bool)
    if scores.shape != genuine.shape or scores.ndim != 1:
        raise InvalidArgumentError(
            f"scores {scores.shape} and genuine {genuine.shape} must be 1-D of one length."
        )
    return scores, genuine


def roc_auc(scores: Sequence[float], genuine: Sequence[bool]) -> float:
    """The probability that a genuine episode outscores an impostor one (ties ½);
    0.5 when only one class is present (nothing to separate).

    Computed from ranks (the Mann–Whitney statistic): equal to scikit-learn's
    ``roc_auc_score``, and cheap enough for thousands of bootstrap resamples.
    """
    from scipy.stats import rankdata

    scores, genuine = _checked(scores, genuine)
    n_genuine = int(genuine.sum())
    n_impostor = genuine.size - n_genuine
    if n_genuine == 0 or n_impostor == 0:
        return 0.5
    ranks = rankdata(scores)
    return float(
        (ranks[genuine].sum() - n_genuine * (n_genuine + 1) / 2) / (n_genuine * n_impostor)
    )


def equal_error_rate(scores: Sequence[float], genuine: Sequence[bool]) -> float:
    """The error rate at the threshold where false accepts equal false rejects
    (linear interpolation between ROC points)."""
    from sklearn.metrics import roc_curve

    scores, genuine = _checked(scores, genuine)
    if genuine.all() or not genuine.any():
        return 0.5
    false_accept, true_accept, _ = roc_curve(genuine, scores)
    false_reject = 1.0 - true_accept
    gap = false_accept - false_reject  # rises from −1 to +1 along the curve
    k = int(np.argmax(gap >= 0))
    if k == 0 or gap[k] == 0:
        return float(false_accept[k])
    # Between points k−1 and k the gap changes sign: interpolate where it is 0.
    w = gap[k] / (gap[k] - gap[k - 1])
    return float(w * false_accept[k - 1] + (1 - w) * false_accept[k])


def calibrate_threshold(scores: Sequence[float], genuine: Sequence[bool]) -> float:
    """The threshold with the best accuracy on these episodes (accept ``score >= t``);
    midway between neighbouring scores, so it generalises to new ones."""
    scores, genuine = _checked(scores, genuine)
    if scores.size == 0:
        raise InvalidArgumentError("calibrate_threshold needs at least one episode.")
    values = np.unique(scores)
    candidates = np.concatenate([[values[0] - 1e-9], (values[:-1] + values[1:]) / 2, [np.inf]])
    accuracy = [((scores >= t) == genuine).mean() for t in candidates]
    return float(candidates[int(np.argmax(accuracy))])


def accuracy_at(scores: Sequence[float], genuine: Sequence[bool], threshold: float) -> float:
    """The share of episodes decided right when ``score >= threshold`` means genuine."""
    scores, genuine = _checked(scores, genuine)
    return float(((scores >= threshold) == genuine).mean())
