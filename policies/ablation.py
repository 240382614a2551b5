"""Ablation: does a policy use what it hears? Hold the dialog part of its input constant.

The wrapped policy sees every observation with the features that carry what the
partner said (``dialog``, a slice) replaced by their mean at that turn, measured on
the policy's own episodes. If it plays as well that way, it ignores the dialog.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convenv.errors import InvalidArgumentError
from convenv.policies.base import ActionPolicy
from convenv.rollout import run_episodes
from convenv.splits import validation_personas

# Validation-persona episodes the per-turn means are measured on (seeds apart from
# training's and the benchmark's).
MEAN_EPISODES = 256
MEAN_SEED = 900_000


def _turns(observations: np.ndarray, max_turns: int) -> np.ndarray:
    # The observation's last feature is the elapsed fraction of the episode.
    return np.rint(observations[:, -1] * max_turns).astype(np.int64)


class ObservationRecorder(ActionPolicy):
    """Passes through to ``policy`` and keeps the mean dialog features per turn."""

    def __init__(self, policy: ActionPolicy, dialog: slice, max_turns: int) -> None:
        self.policy = policy
        self.name = policy.name
        self.dialog = dialog
        self.max_turns = max_turns
        self._sums: dict[int, np.ndarray] = {}
        self._counts: dict[int, int] = {}

    def begin_episode(self, env_index: int, claim: Sequence[str], seed: int | None = None) -> None:
        self.policy.begin_episode(env_index, claim, seed)

    def act(self, observations: np.ndarray) -> np.ndarray:
        for turn, row in zip(_turns(observations, self.max_turns), observations, strict=True):
            part = row[self.dialog].astype(np.float64)
            self._sums[int(turn)] = self._sums.get(int(turn), 0) + part
            self._counts[int(turn)] = self._counts.get(int(turn), 0) + 1
        return self.policy.act(observations)

    def means(self) -> dict[int, np.ndarray]:
        """Per turn, the mean of the dialog features the policy saw."""
        if not self._counts:
            raise InvalidArgumentError("ObservationRecorder saw no observations; play first.")
        return {t: (self._sums[t] / self._counts[t]).astype(np.float32) for t in self._sums}


class DialogMeanPolicy(ActionPolicy):
    """``policy`` with the dialog features held at their per-turn means."""

    def __init__(
        self,
        policy: ActionPolicy,
        dialog: slice,
        means: dict[int, np.ndarray],
        max_turns: int,
        name: str | None = None,
    ) -> None:
        if not means:
            raise InvalidArgumentError("means is empty; record them with ObservationRecorder.")
        self.policy = policy
        self.dialog = dialog
        self.means = means
        self.max_turns = max_turns
        self.name = name or f"{policy.name} (dialog held at mean)"

    def begin_episode(self, env_index: int, claim: Sequence[str], seed: int | None = None) -> None:
        self.policy.begin_episode(env_index, claim, seed)

    def act(self, observations: np.ndarray) -> np.ndarray:
        held = observations.copy()
        fallback = next(iter(self.means.values()))
        for i, turn in enumerate(_turns(observations, self.max_turns)):
            held[i, self.dialog] = self.means.get(int(turn), fallback)
        return self.policy.act(held)


def held_at_mean(
    policy: ActionPolicy, env, episodes: int = MEAN_EPISODES, batch_size: int = 16
) -> DialogMeanPolicy:
    """``policy`` with its dialog features held at the per-turn means it saw on its own
    play on validation (train) personas of ``env``'s engine."""
    calibration = env.with_personas("train", validation_personas())
    recorder = ObservationRecorder(policy, env.dialog_slice(), env.max_turns)
    seeds = list(range(MEAN_SEED, MEAN_SEED + episodes))
    for _ in run_episodes(calibration, recorder, seeds, None, batch_size, progress=False):
        pass
    return DialogMeanPolicy(
        policy,
        env.dialog_slice(),
        recorder.means(),
        env.max_turns,
        name=f"{policy.name} (dialog held at mean)",
    )
