"""Warm start: fit a policy network to a heuristic's actions before RL (behaviour cloning).

In authentication PPO from scratch collapses onto repeating one code (a poor local
optimum); started from the adaptive claim heuristic it begins where asking about the
claim already pays, and RL refines from there. The teacher is any registered policy
that plays the task without cheating (it reads only what the student can see).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError
from convenv.policies.base import ActionPolicy
from convenv.policies.registry import PolicyContext, find_policy, make_policies
from convenv.rollout import run_episodes

# Seeds of the cloned episodes: apart from training's and validation's.
CLONE_SEED = 2_000_000


class Recorder(ActionPolicy):
    """Plays ``inner`` and keeps every (observation, action) pair."""

    def __init__(self, inner: ActionPolicy) -> None:
        self.inner, self.name = inner, inner.name
        self.observations: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []

    def attach(self, env) -> None:
        self.inner.attach(env)

    def begin_episode(self, env_index: int, claim: Sequence[str], seed: int | None = None):
        self.inner.begin_episode(env_index, claim, seed)

    def act(self, observations: np.ndarray) -> np.ndarray:
        actions = self.inner.act(observations)
        self.observations.append(observations.copy())
        self.actions.append(np.asarray(actions).copy())
        return actions


def teacher(name: str, env: PersonaInterviewEnv) -> ActionPolicy:
    """The registered policy ``name`` if it plays ``env``'s task without cheating."""
    task = type(env.task)
    entry = find_policy(name)
    if not entry.supports(task) or entry.cheats(task):
        raise InvalidArgumentError(
            f"warm_start={name!r} does not play task {task.name!r} fairly (a teacher must "
            "read only what the student sees); pick a heuristic that does, e.g. "
            "claim-adaptive in authentication."
        )
    policies = make_policies([name], PolicyContext(env))
    if len(policies) != 1:
        raise InvalidArgumentError(f"warm_start={name!r} names {len(policies)} policies; name one.")
    return policies[0]


def demonstrations(
    env: PersonaInterviewEnv, name: str, episodes: int, progress: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Observations and the teacher's actions over ``episodes`` episodes of ``env``."""
    recorder = Recorder(teacher(name, env))
    seeds = list(range(CLONE_SEED, CLONE_SEED + episodes))
    for _ in run_episodes(env, recorder, seeds, None, 64, progress):
        pass
    return np.concatenate(recorder.observations), np.concatenate(recorder.actions)


def clone(
    policy,
    observations: np.ndarray,
    actions: np.ndarray,
    epochs: int = 30,
    learning_rate: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
    min_updates: int = 500,
) -> float:
    """Fit an SB3 actor-critic ``policy`` to ``actions`` (cross-entropy, minibatches of
    256, ``epochs`` passes and at least ``min_updates`` updates); returns the share of
    demonstrated turns whose most likely action is the demonstrated one."""
    x = torch.as_tensor(observations, dtype=torch.float32, device=policy.device)
    y = torch.as_tensor(actions, dtype=torch.long, device=policy.device)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=learning_rate)
    passes = max(epochs, -(-min_updates // -(-len(x) // 256)))
    for _ in tqdm(range(passes), desc="behaviour cloning", disable=not progress):
        for batch in torch.randperm(len(x), generator=generator).split(256):
            loss = -policy.get_distribution(x[batch]).log_prob(y[batch]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        probs = policy.get_distribution(x).distribution.probs
    return float((probs.argmax(dim=1) == y).float().mean())
