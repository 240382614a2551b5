"""Who chooses action codes: random, fixed sequence, round robin, oracle, SB3 model."""

from __future__ import annotations

from policies.base import ActionPolicy
from policies.oracle import TopicOraclePolicy
from policies.sb3 import SB3Policy, algorithm_class
from policies.simple import FixedSequencePolicy, RandomPolicy, RoundRobinPolicy

__all__ = [
    "ActionPolicy",
    "FixedSequencePolicy",
    "RandomPolicy",
    "RoundRobinPolicy",
    "SB3Policy",
    "TopicOraclePolicy",
    "algorithm_class",
]
