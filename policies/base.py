"""The action-policy interface: choose one action code per env per turn."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class ActionPolicy:
    """Chooses action indices for a batch of envs.

    The rollout loop calls :meth:`begin_episode` whenever an env starts a new
    episode (with the partner's persona, which only an oracle may read) and
    :meth:`act` once per step for all envs. Per-env state lives in the policy.
    """

    name = "policy"

    def begin_episode(
        self, env_index: int, persona: Sequence[str], seed: int | None = None
    ) -> None:
        """A new episode starts in env ``env_index``; ``seed`` is the seed it was reset
        with (when known): a policy that draws at random seeds its draws with it, so an
        episode gets the same actions however episodes are batched or sharded."""

    def act(self, observations: np.ndarray) -> np.ndarray:
        """One action index per row of ``observations``."""
        raise NotImplementedError


class TurnCountingPolicy(ActionPolicy):
    """A policy whose choice depends on the turn number of each env."""

    def __init__(self) -> None:
        self._turns: dict[int, int] = {}

    def begin_episode(
        self, env_index: int, persona: Sequence[str], seed: int | None = None
    ) -> None:
        self._turns[env_index] = 0

    def act(self, observations: np.ndarray) -> np.ndarray:
        actions = []
        for i in range(len(observations)):
            turn = self._turns.get(i, 0)
            actions.append(self.choose(i, turn))
            self._turns[i] = turn + 1
        return np.asarray(actions, dtype=np.int64)

    def choose(self, env_index: int, turn: int) -> int:
        raise NotImplementedError
