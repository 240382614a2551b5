"""Policies named on the command line: ``random``, ``round-robin``, ``oracle``,
``fixed:3`` (one code), ``fixed:all`` (each code alone), ``fixed:0,4,6`` (a sequence),
or the path of a saved SB3 model (``runs/train/model.zip``, optionally ``ppo:``/``dqn:``/
``a2c:`` in front)."""

from __future__ import annotations

from pathlib import Path

from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError
from convenv.policies import (
    ActionPolicy,
    FixedSequencePolicy,
    RandomPolicy,
    RoundRobinPolicy,
    SB3Policy,
    TopicOraclePolicy,
)
from convenv.policies.sb3 import ALGORITHMS


def make_policies(specs: list[str], env: PersonaInterviewEnv, seed: int = 0) -> list[ActionPolicy]:
    """Build the policies ``specs`` name, for ``env``'s action codes."""
    n = len(env.actions)
    out: list[ActionPolicy] = []
    for spec in specs:
        if spec == "random":
            out.append(RandomPolicy(n, seed))
        elif spec == "round-robin":
            out.append(RoundRobinPolicy(n))
        elif spec == "oracle":
            out.append(TopicOraclePolicy(env.actions, env.engine.identifier.encoder))
        elif spec == "fixed:all":
            out += [
                FixedSequencePolicy([k], n, name=f"fixed:{a.label}")
                for k, a in enumerate(env.actions)
            ]
        elif spec.startswith("fixed:"):
            try:
                sequence = [int(k) for k in spec[len("fixed:") :].split(",")]
            except ValueError as err:
                raise InvalidArgumentError(
                    f"policy {spec!r}; write fixed:K or fixed:K1,K2,... with code indices."
                ) from err
            out.append(FixedSequencePolicy(sequence, n))
        else:
            algorithm, _, path = (
                spec.partition(":") if spec.split(":")[0] in ALGORITHMS else ("ppo", "", spec)
            )
            if not Path(path).exists():
                raise InvalidArgumentError(
                    f"policy {spec!r} is neither a known name (random, round-robin, oracle, "
                    "fixed:K, fixed:all) nor an existing SB3 model file."
                )
            policy = SB3Policy(path, algorithm)
            policy.name = f"{algorithm}:{Path(path).parent.name or Path(path).stem}"
            out.append(policy)
    return out
