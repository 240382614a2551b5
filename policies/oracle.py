"""The topic oracle: reads the persona and asks about what its facts cover (upper reference)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convenv.actions import ActionSet
from convenv.policies.base import TurnCountingPolicy


class TopicOraclePolicy(TurnCountingPolicy):
    """Cheats on purpose: the codes closest to each persona fact come first.

    Each fact votes for the code whose description is most similar to it; codes are
    played in order of their best vote, one per fact first, then the rest by
    similarity. Its accuracy is the reference a learned policy tries to reach.
    """

    name = "oracle"

    def __init__(self, actions: ActionSet, encoder) -> None:
        super().__init__()
        self.actions = actions
        self.encoder = encoder
        self.topics = encoder.encode([a.description for a in actions])
        self._plans: dict[int, list[int]] = {}

    def plan(self, persona: Sequence[str]) -> list[int]:
        """The order of codes this oracle asks for ``persona``."""
        sims = self.encoder.encode(list(persona)) @ self.topics.T  # (facts, codes)
        first: list[int] = []
        for fact in np.argsort(-sims.max(axis=1), kind="stable"):
            code = int(sims[fact].argmax())
            if code not in first:
                first.append(code)
        rest = [int(c) for c in np.argsort(-sims.max(axis=0), kind="stable") if c not in first]
        return first + rest

    def begin_episode(
        self, env_index: int, persona: Sequence[str], seed: int | None = None
    ) -> None:
        super().begin_episode(env_index, persona, seed)
        self._plans[env_index] = self.plan(persona)

    def choose(self, env_index: int, turn: int) -> int:
        plan = self._plans[env_index]
        return plan[turn % len(plan)]
