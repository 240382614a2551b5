"""Warm start: fit a policy network to a teacher's actions before RL (behaviour cloning).

In authentication PPO from scratch collapses onto repeating one code (a poor local
optimum); started from the claim heuristic it begins where asking about the claim
already pays, and RL refines from there.

The teacher is a heuristic (``claim``, ``claim-adaptive``) or a *privileged* one,
``lookahead-per-claim``: on train personas only, it plays the lookahead bound that
knows each episode's truth but must ask every episode of a claim the same codes. The
student sees only its observation (the claim and the answers), so at test time
nothing privileged is left. Measured with the consistent partner it does not help:
the teacher's choices fit its own episodes' luck, the clone matches it on 61% of
turns, and the trained policy ends below the best fixed sequence (README).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError
from convenv.policies.base import ActionPolicy
from convenv.policies.simple import ScriptedPolicy
from convenv.training.rollout import run_episodes

HEURISTICS = ("claim", "claim-adaptive")
TEACHER = "lookahead-per-claim"
WARM_STARTS = (*HEURISTICS, TEACHER)
# Seeds of the cloned episodes: apart from training's and validation's.
CLONE_SEED = 2_000_000
# Episodes per claim the privileged teacher pools its choice over: half genuine, half
# impostors on average, as in the benchmark.
CLAIM_EPISODES = 8


class Recorder(ActionPolicy):
    """Plays ``inner`` and keeps every (observation, action) pair."""

    def __init__(self, inner: ActionPolicy) -> None:
        self.inner, self.name = inner, inner.name
        self.observations: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []

    def begin_episode(self, env_index: int, persona: Sequence[str], seed: int | None = None):
        self.inner.begin_episode(env_index, persona, seed)

    def act(self, observations: np.ndarray) -> np.ndarray:
        actions = self.inner.act(observations)
        self.observations.append(observations.copy())
        self.actions.append(np.asarray(actions).copy())
        return actions


def heuristic(name: str, env: PersonaInterviewEnv) -> ActionPolicy:
    """The authentication heuristic called ``name`` (see :data:`HEURISTICS`)."""
    if env.engine.task != "authentication":
        raise InvalidArgumentError(
            f"warm_start={name!r} reads the claim, which identification hides (there it "
            "would be the partner's persona); use it with task='authentication'."
        )
    if name not in HEURISTICS:
        raise InvalidArgumentError(f"warm_start={name!r}; pass one of {WARM_STARTS}.")
    from convenv.training.policy_specs import make_policies

    return make_policies([name], env)[0]


def teacher_episodes(
    env: PersonaInterviewEnv, episodes: int, progress: bool = True
) -> tuple[list[int], list[dict], dict[int, list[int]]]:
    """Seeds, options and the privileged teacher's actions for ``episodes`` episodes
    (rounded down to whole claims of ``CLAIM_EPISODES``) of ``env``'s personas."""
    from convenv.training.lookahead import EXPECTED_DRAWS, lookahead_episodes

    if env.engine.task != "authentication":
        raise InvalidArgumentError(
            f"warm_start={TEACHER!r} needs genuine and impostor partners; use it with "
            "task='authentication'."
        )
    claims = min(max(1, episodes // CLAIM_EPISODES), len(env.personas))
    chosen = np.random.default_rng(CLONE_SEED).choice(len(env.personas), claims, replace=False)
    seeds = list(range(CLONE_SEED, CLONE_SEED + claims * CLAIM_EPISODES))
    options = [{"persona_index": int(chosen[k // CLAIM_EPISODES])} for k in range(len(seeds))]
    records = lookahead_episodes(env, seeds, options, 256, progress, EXPECTED_DRAWS, per_claim=True)
    return seeds, options, {r.seed: r.actions for r in records}


def demonstrations(
    env: PersonaInterviewEnv, name: str, episodes: int, progress: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Observations and the teacher's actions over ``episodes`` episodes of ``env``."""
    if name == TEACHER:
        seeds, options, scripts = teacher_episodes(env, episodes, progress)
        recorder = Recorder(ScriptedPolicy(scripts))
    else:
        recorder = Recorder(heuristic(name, env))
        seeds, options = list(range(CLONE_SEED, CLONE_SEED + episodes)), None
    for _ in run_episodes(env, recorder, seeds, options, 64, progress):
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
