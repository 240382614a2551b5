"""Policies that need no learning: random, fixed sequence, round robin."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convenv.errors import InvalidArgumentError
from convenv.policies.base import ActionPolicy, TurnCountingPolicy


class RandomPolicy(ActionPolicy):
    """Uniformly random action codes (repeats allowed), reproducible with ``seed``.

    Each episode draws from its own generator, seeded by ``seed`` and the episode's
    seed (else its number), so the same episodes get the same codes however many envs
    run at once and however episodes are sharded over workers.
    """

    name = "random"

    def __init__(self, n_actions: int, seed: int | None = None) -> None:
        if n_actions < 1:
            raise InvalidArgumentError(f"n_actions={n_actions!r}; pass a positive integer.")
        self.n_actions = n_actions
        self.seed = seed
        self.rng = np.random.default_rng(seed)  # for envs no episode was begun in
        self._episodes = 0
        self._lanes: dict[int, np.random.Generator] = {}

    def begin_episode(self, env_index: int, claim, seed: int | None = None) -> None:
        key = self._episodes if seed is None else seed
        self._lanes[env_index] = np.random.default_rng([self.seed or 0, key])
        self._episodes += 1

    def act(self, observations: np.ndarray) -> np.ndarray:
        return np.array(
            [
                self._lanes.get(i, self.rng).integers(self.n_actions)
                for i in range(len(observations))
            ],
            dtype=np.int64,
        )


class FixedSequencePolicy(TurnCountingPolicy):
    """Plays ``sequence`` turn by turn, starting over when it runs out."""

    def __init__(self, sequence: Sequence[int], n_actions: int, name: str | None = None) -> None:
        super().__init__()
        sequence = [int(a) for a in sequence]
        if not sequence or any(not 0 <= a < n_actions for a in sequence):
            raise InvalidArgumentError(
                f"sequence={sequence!r}; pass a non-empty list of indices in [0, {n_actions - 1}]."
            )
        self.sequence = sequence
        self.name = name or "fixed:" + ",".join(map(str, sequence))

    def choose(self, env_index: int, turn: int) -> int:
        return self.sequence[turn % len(self.sequence)]


class RoundRobinPolicy(FixedSequencePolicy):
    """Every code once, in order, then again."""

    def __init__(self, n_actions: int) -> None:
        super().__init__(range(n_actions), n_actions, name="round-robin")
