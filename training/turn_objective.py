"""What a question sequence is judged by, turn by turn, in each task.

Identification: the mean of the env's reward metric over episodes. Authentication:
the ROC-AUC of the claim's support between genuine and impostor episodes — the
quantity the benchmark reports. The best-fixed-sequence search and the benchmark's
curves both use these, so the baseline is tuned for what it is scored on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convenv.authentication_metrics import roc_auc
from convenv.training.rollout import EpisodeRecord


def support_at(records: Sequence[EpisodeRecord], turn: int, metric: str = "auc") -> np.ndarray:
    """Each episode's ``metric`` after ``turn`` questions (1-based)."""
    return np.array([r.metrics[turn - 1][metric] for r in records], np.float64)


def turn_objective(
    records: Sequence[EpisodeRecord], turn: int, task: str, metric: str = "auc"
) -> float:
    """How well the episodes did after ``turn`` questions, higher is better."""
    values = support_at(records, turn, metric)
    if task == "authentication":
        return roc_auc(values, [bool(r.genuine) for r in records])
    return float(values.mean())
