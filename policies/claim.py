"""Claim-driven policies: ask about what the claim says.

:class:`ClaimTopicPolicy` plans the codes from the claim's facts at the start of an
episode. :class:`AdaptiveClaimPolicy` reads only the authentication observation (the
claim's topics and the support the answers so far gave each claimed fact), so a
network can be fitted to it and what it hears changes what it asks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convenv.actions import ActionSet
from convenv.errors import InvalidArgumentError
from convenv.policies.base import ActionPolicy, TurnCountingPolicy
from convenv.tasks.authentication import claim_layout


class AdaptiveClaimPolicy(ActionPolicy):
    """Asks about the claimed facts the answers support least.

    Each code scores its *open claim* (the observation's mean over claimed facts of
    ``topic(fact, code) · (1 − support(fact))``) minus ``repeat_cost`` per time it was
    asked: a fact the partner has already confirmed needs no more questions, and one
    it has not yet stated (an impostor's changed fact, or a genuine partner who talked
    about something else) is asked about again, while the repeat cost moves on to the
    other facts. Before any answer every support is 0.5, so the first question is about
    the claim's most typical topic.

    Args:
        n_codes: Number of action codes.
        max_turns: Questions per episode (to read the code counts off the observation).
        repeat_cost: Score lost per earlier use of a code.
    """

    name = "claim-adaptive"

    def __init__(self, n_codes: int, max_turns: int, repeat_cost: float = 0.2) -> None:
        if n_codes < 1 or max_turns < 1:
            raise InvalidArgumentError(
                f"n_codes={n_codes!r}, max_turns={max_turns!r}; pass positive integers."
            )
        if not repeat_cost >= 0:
            raise InvalidArgumentError(f"repeat_cost={repeat_cost!r}; pass a number ≥ 0.")
        self.n_codes, self.max_turns, self.repeat_cost = n_codes, max_turns, repeat_cost
        self.layout = claim_layout(n_codes)

    def act(self, observations: np.ndarray) -> np.ndarray:
        width = self.layout["width"].stop
        if observations.ndim != 2 or observations.shape[1] != width:
            raise InvalidArgumentError(
                f"observations of shape {observations.shape}; {self.name} reads the "
                f"authentication observation ({width} wide for {self.n_codes} codes): use "
                "it with task='authentication'."
            )
        open_claim = observations[:, self.layout["open_claim"]]
        counts = np.rint(observations[:, self.layout["use"]] * self.max_turns)
        return (open_claim - self.repeat_cost * counts).argmax(axis=1).astype(np.int64)


class ClaimTopicPolicy(TurnCountingPolicy):
    """Asks about the topics of the claim's facts: the codes closest to each claimed
    fact come first.

    Each fact votes for the code whose description is most similar to it; codes are
    played in order of their best vote, one per fact first, then the rest by
    similarity. Fair where the claim is public (authentication); where the claim is
    the partner's own persona (identification) it reads the truth: the topic oracle.
    """

    name = "claim"

    def __init__(self, actions: ActionSet, encoder) -> None:
        super().__init__()
        self.actions = actions
        self.encoder = encoder
        self.topics = encoder.encode([a.description for a in actions])
        self._plans: dict[int, list[int]] = {}

    def plan(self, persona: Sequence[str]) -> list[int]:
        """The order of codes asked for the claim ``persona``."""
        sims = self.encoder.encode(list(persona)) @ self.topics.T  # (facts, codes)
        first: list[int] = []
        for fact in np.argsort(-sims.max(axis=1), kind="stable"):
            code = int(sims[fact].argmax())
            if code not in first:
                first.append(code)
        rest = [int(c) for c in np.argsort(-sims.max(axis=0), kind="stable") if c not in first]
        return first + rest

    def begin_episode(self, env_index: int, claim: Sequence[str], seed: int | None = None) -> None:
        super().begin_episode(env_index, claim, seed)
        self._plans[env_index] = self.plan(claim)

    def choose(self, env_index: int, turn: int) -> int:
        plan = self._plans[env_index]
        return plan[turn % len(plan)]
