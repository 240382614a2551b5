"""Who chooses action codes: random, fixed sequences, claim-driven heuristics, the
lookahead bound and learned models; :mod:`convenv.policies.registry` names them."""

from __future__ import annotations

from convenv.policies.base import ActionPolicy
from convenv.policies.claim import AdaptiveClaimPolicy, ClaimTopicPolicy
from convenv.policies.lookahead import LookaheadPolicy
from convenv.policies.sb3 import SB3Policy, algorithm_class
from convenv.policies.simple import FixedSequencePolicy, RandomPolicy, RoundRobinPolicy

__all__ = [
    "ActionPolicy",
    "AdaptiveClaimPolicy",
    "ClaimTopicPolicy",
    "FixedSequencePolicy",
    "LookaheadPolicy",
    "RandomPolicy",
    "RoundRobinPolicy",
    "SB3Policy",
    "algorithm_class",
]
