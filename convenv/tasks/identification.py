"""Identification (convogym's protocol): who is the partner?

The partner plays the episode's persona; the identifier ranks its true facts among
``n_negatives`` wrong ones, and the policy is rewarded by the ranking's quality (the
env's reward metric, AUC by default). The policy observes what the partner said (the
mean answer embedding) and which codes it has asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from convenv.metrics import METRIC_NAMES
from convenv.statistics import mean_of
from convenv.tasks.base import MainJobPlan, ObservationBatch, Statistic, Task


@dataclass
class IdentificationTask(Task):
    """Rank the partner's own facts among wrong ones (no options).

    Observation: ``Box(-1, 1, (dim + 2 · n_codes + 1,))``: the mean sentence embedding
    of the partner's answers (``dim`` = 384 for MiniLM), whether each code was asked
    (0/1), the share of turns each code was used, and the share of the episode gone.
    """

    name: ClassVar[str] = "identification"
    summary: ClassVar[str] = "who is the partner? rank its facts among wrong ones"
    default_policies: ClassVar[tuple[str, ...]] = ("random", "round-robin", "best-fixed", "oracle")
    headline: ClassVar[str] = "auc"
    report_metrics: ClassVar[tuple[str, ...]] = METRIC_NAMES
    main_job: ClassVar[MainJobPlan] = MainJobPlan(timesteps=250_000)

    def prepare(self) -> None:
        setting = self.bound
        width = setting.dim + 2 * len(setting.actions) + 1
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(width,), dtype=np.float32)

    def dialog_slice(self) -> slice:
        return slice(0, self.bound.dim)

    def observe(self, batch: ObservationBatch) -> np.ndarray:
        max_turns = self.bound.max_turns
        turns = np.asarray(batch.turns, np.float64)
        said = batch.said / np.maximum(turns, 1)[:, None]
        # A 0/1 "already asked" flag per code: a count fraction moves by only 1/max_turns
        # per use, too small a signal for a policy network to pick up quickly.
        used = np.minimum(batch.counts, 1)
        obs = np.concatenate(
            [said, used, batch.counts / max_turns, (turns / max_turns)[:, None]], axis=1
        )
        return np.clip(obs, -1.0, 1.0).astype(np.float32)

    def reset_info(self, episode) -> dict[str, Any]:
        return {"persona": episode.persona}

    def step_info(self, episode, ended: bool) -> dict[str, Any]:
        return {"persona": episode.persona}

    def statistics(
        self, records: Sequence, turn: int, calibration: Mapping[str, float] | None = None
    ) -> dict[str, Statistic]:
        return {m: mean_of([r.metrics[turn - 1][m] for r in records]) for m in METRIC_NAMES}

    def objective(self, records: Sequence, turn: int) -> float:
        # The metric the env rewards, so the baseline is tuned for what policies learn.
        metric = self.bound.reward_metric
        return float(np.mean([r.metrics[turn - 1][metric] for r in records]))
