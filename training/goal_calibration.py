"""How well the goal check's confidence is calibrated: expected calibration error and
a reliability diagram, on hand-labelled proposals the fit did not see.

The check is refitted on all but one fold of ``data/goal_proposals.csv`` and scored on
the fold left out, so every proposal's calibrated confidence comes from a model that
never saw its label; the topic softmax (the confidence before calibration) is scored
on the same proposals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convenv.training.goal_judge import GoalJudge


def expected_calibration_error(confidence: np.ndarray, labels: np.ndarray, bins: int = 10):
    """ECE over ``bins`` equal-width confidence bins: the count-weighted mean gap
    between a bin's mean confidence and its share of positive labels."""
    points = reliability(confidence, labels, bins)
    total = sum(count for _, _, count in points)
    return float(sum(count / total * abs(mean - share) for mean, share, count in points))


def reliability(confidence: np.ndarray, labels: np.ndarray, bins: int = 10):
    """Per non-empty bin: ``(mean confidence, share positive, count)``."""
    confidence, labels = np.asarray(confidence, float), np.asarray(labels, float)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    return [
        (float(confidence[which == b].mean()), float(labels[which == b].mean()),
         int((which == b).sum()))
        for b in range(bins)
        if (which == b).any()
    ]  # fmt: skip


@dataclass
class CalibrationCheck:
    labels: np.ndarray  # 1: the question fits its code
    before: np.ndarray  # the topic softmax
    after: np.ndarray  # the calibrated confidence, out of fold

    def row(self, name: str, confidence: np.ndarray, threshold: float) -> dict:
        accepted = confidence >= threshold
        order = np.argsort(confidence, kind="stable")
        first = order[: int((self.labels == 0).sum())]  # as many as there are misfits
        return {
            "confidence": name,
            "ece": expected_calibration_error(confidence, self.labels),
            "brier": float(np.mean((confidence - self.labels) ** 2)),
            "auto_accepted": int(accepted.sum()),
            "misfits_auto_accepted": int((accepted & (self.labels == 0)).sum()),
            "misfits_in_review_head": int((self.labels[first] == 0).sum()),
        }


def cross_validated(
    make_judge: Callable[[], GoalJudge],
    questions: Sequence[str],
    codes: Sequence[str],
    fits: Sequence[bool],
    folds: int = 5,
    seed: int = 0,
) -> CalibrationCheck:
    """Out-of-fold calibrated confidence for every proposal, beside the topic softmax
    (``make_judge`` returns a judge with its temperature calibrated)."""
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(fits, dtype=int)
    judge = make_judge()
    before = judge.topic_probability(questions, codes)
    after = np.zeros(len(labels))
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for train, held in split.split(np.zeros(len(labels)), labels):
        judge.fit_acceptance([questions[i] for i in train], [codes[i] for i in train],
                             labels[train])  # fmt: skip
        after[held] = judge.confidence([questions[i] for i in held], [codes[i] for i in held])
    return CalibrationCheck(labels, before, after)


def plot_reliability(check: CalibrationCheck, path: Path | str, bins: int = 10) -> Path:
    """The reliability diagram (before and after) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 5))
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", label="calibrated")
    curves = (("topic softmax (before)", check.before, "s"),
              ("calibrated, out of fold (after)", check.after, "o"))  # fmt: skip
    for name, confidence, marker in curves:
        points = reliability(confidence, check.labels, bins)
        ece = expected_calibration_error(confidence, check.labels, bins)
        axis.plot([p[0] for p in points], [p[1] for p in points], marker=marker,
                  label=f"{name}: ECE {ece:.3f}")  # fmt: skip
    axis.set_xlabel("goal-check confidence (bin mean)")
    axis.set_ylabel("share of proposals that fit their code")
    axis.set_title(f"goal check on {len(check.labels)} hand-labelled proposals")
    axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
