"""Policies that need no learning: random, fixed sequence, round robin."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convenv.errors import InvalidArgumentError
from convenv.policies.base import ActionPolicy, TurnCountingPolicy


class RandomPolicy(ActionPolicy):
    """Uniformly random action codes (repeats allowed), reproducible with ``seed``."""

    name = "random"

    def __init__(self, n_actions: int, seed: int | None = None) -> None:
        if n_actions < 1:
            raise InvalidArgumentError(f"n_actions={n_actions!r}; pass a positive integer.")
        self.n_actions = n_actions
        self.rng = np.random.default_rng(seed)

    def act(self, observations: np.ndarray) -> np.ndarray:
        return self.rng.integers(self.n_actions, size=len(observations))


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
