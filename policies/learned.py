"""Learned policies named on the command line: SB3 model files and RLlib run directories."""

from __future__ import annotations

from pathlib import Path

from convenv.errors import InvalidArgumentError
from convenv.policies.base import ActionPolicy
from convenv.policies.rllib import RLlibPolicy, is_rllib_run
from convenv.policies.sb3 import ALGORITHMS, SB3Policy

PREFIXES = (*ALGORITHMS, "rllib")


def split_spec(spec: str) -> tuple[str, str]:
    """``("ppo", "runs/x/model.zip")`` for ``"ppo:runs/x/model.zip"``; ``("", spec)``
    without a known prefix."""
    prefix, sep, rest = spec.partition(":")
    return (prefix, rest) if sep and prefix in PREFIXES else ("", spec)


def check_learned(spec: str) -> None:
    """Refuse a path that is neither a model file nor an RLlib run, before anything loads."""
    prefix, path = split_spec(spec)
    if prefix == "rllib" or is_rllib_run(path):
        if not is_rllib_run(path):
            raise InvalidArgumentError(
                f"policy {spec!r}: {path} is not a run directory of convenv train "
                "--backend rllib (it needs policy.json and policy.safetensors)."
            )
        return
    file = Path(path)
    if not file.is_file() and not file.with_suffix(".zip").is_file():
        raise InvalidArgumentError(
            f"policy {spec!r} is neither a registered policy name nor an existing SB3 "
            "model file (.zip) or RLlib run directory; see convenv bench --help."
        )


def learned_policy(spec: str, env) -> ActionPolicy:
    """The policy a model spec names, for ``env``'s spaces."""
    check_learned(spec)
    prefix, path = split_spec(spec)
    if prefix == "rllib" or is_rllib_run(path):
        return RLlibPolicy.load(path, observation_size=env.observation_space.shape[0])
    policy = SB3Policy(
        path,
        prefix or None,
        observation_space=env.observation_space,
        action_space=env.action_space,
    )
    file = Path(path)
    policy.name = f"{policy.algorithm}:{file.parent.name or file.stem}"
    return policy
