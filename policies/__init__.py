"""Who chooses action codes: random, fixed sequence, round robin, oracle, claim-driven,
SB3 model."""

from __future__ import annotations

from convenv.policies.base import ActionPolicy
from convenv.policies.claim import AdaptiveClaimPolicy
from convenv.policies.oracle import TopicOraclePolicy
from convenv.policies.sb3 import SB3Policy, algorithm_class
from convenv.policies.simple import FixedSequencePolicy, RandomPolicy, RoundRobinPolicy

__all__ = [
    "ActionPolicy",
    "AdaptiveClaimPolicy",
    "FixedSequencePolicy",
    "RandomPolicy",
    "RoundRobinPolicy",
    "SB3Policy",
    "TopicOraclePolicy",
    "algorithm_class",
]
