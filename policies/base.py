"""The action-policy interface: choose one action code per env per turn."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class ActionPolicy:
    """Chooses action indices for a batch of envs.

    The rollout loop (:func:`convenv.rollout.run_episodes`) calls :meth:`attach` once
    with the env it plays, :meth:`begin_episode` whenever lane ``env_index`` starts an
    episode (with the episode's claim: public in authentication, the partner's own
    persona in identification, where only a policy marked as cheating reads it), and
    :meth:`act` once per step for all lanes (row ``i`` is lane ``i``). Per-lane state
    lives in the policy. A policy that overrides :meth:`watch` sees the episode itself,
    the truth included: the policy registry must mark it as cheating.
    """

    name = "policy"

    def attach(self, env) -> None:
        """The env the next episodes are played on (a policy that steps forks needs it)."""

    def begin_episode(self, env_index: int, claim: Sequence[str], seed: int | None = None) -> None:
        """A new episode starts in lane ``env_index``; ``seed`` is the seed it was reset
        with (when known): a policy that draws at random seeds its draws with it, so an
        episode gets the same actions however episodes are batched or sharded."""

    def watch(self, env_index: int, episode) -> None:
        """The episode object of lane ``env_index`` (only cheating policies look)."""

    def act(self, observations: np.ndarray) -> np.ndarray:
        """One action index per row of ``observations``."""
        raise NotImplementedError


class TurnCountingPolicy(ActionPolicy):
    """A policy whose choice depends on the turn number of each env."""

    def __init__(self) -> None:
        self._turns: dict[int, int] = {}

    def begin_episode(self, env_index: int, claim: Sequence[str], seed: int | None = None) -> None:
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
