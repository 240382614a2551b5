"""Claim-driven heuristics and cloning them into a policy network (warm start)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from stable_baselines3 import PPO

from convenv.actions import ActionSet
from convenv.config import EnvConfig
from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError
from convenv.policies import AdaptiveClaimPolicy
from convenv.rollout import run_episodes
from convenv.tasks.authentication import CLAIM_SLOTS, ClaimObservation
from convenv.testing import HashingEncoder
from convenv.training import train_policy
from convenv.training.warm_start import clone, demonstrations, teacher
from tests.test_authentication import PERSONAS

N_CODES, TURNS = 11, 8


def claim_observation(topics: dict[int, int], support: dict[int, float], counts=None):
    """An authentication observation: slot → its topic code, slot → its support."""
    n, slots = N_CODES, CLAIM_SLOTS
    view = ClaimObservation(ActionSet(), HashingEncoder(), TURNS)
    topic = np.zeros((slots, n), np.float32)
    mask = np.zeros(slots, np.float32)
    supports = np.zeros(slots, np.float32)
    for slot, code in topics.items():
        topic[slot, code], mask[slot], supports[slot] = 1.0, 1.0, support.get(slot, 0.5)
    counts = np.zeros(n, np.float32) if counts is None else np.asarray(counts, np.float32)
    features = np.concatenate([topic.ravel(), mask])[None]
    zeros = np.zeros((1, slots), np.float32)
    return view.observe(features, supports[None], zeros, np.zeros(1), counts[None], [0])[0]


def test_adaptive_claim_asks_about_the_least_supported_claimed_fact():
    policy = AdaptiveClaimPolicy(N_CODES, TURNS, repeat_cost=0.1)
    confirmed = claim_observation({0: 3, 1: 7}, {0: 1.0, 1: 0.5})
    doubted = claim_observation({0: 3, 1: 7}, {0: 0.2, 1: 0.9})
    assert policy.act(np.stack([confirmed, doubted])).tolist() == [7, 3]
    # Asked twice already and still unsupported: the repeat cost moves it on.
    counts = np.zeros(N_CODES)
    counts[3] = 2
    asked = claim_observation({0: 3, 1: 7}, {0: 0.3, 1: 0.6}, counts)
    assert policy.act(asked[None]).tolist() == [7]
    assert AdaptiveClaimPolicy(N_CODES, TURNS, 0.0).act(asked[None]).tolist() == [3]


def test_adaptive_claim_refuses_other_observations():
    with pytest.raises(InvalidArgumentError, match="task='authentication'"):
        AdaptiveClaimPolicy(N_CODES, TURNS).act(np.zeros((2, 40), np.float32))
    with pytest.raises(InvalidArgumentError, match="repeat_cost"):
        AdaptiveClaimPolicy(N_CODES, TURNS, -1.0)


def auth_env(stub_env_kwargs) -> PersonaInterviewEnv:
    return PersonaInterviewEnv(
        **stub_env_kwargs, personas=PERSONAS, task="authentication", max_turns=4,
        impostor="overlap",
    )  # fmt: skip


def test_adaptive_claim_uses_what_it_hears(stub_env_kwargs):
    env = auth_env(stub_env_kwargs)
    policy = teacher("claim-adaptive", env)
    records = list(run_episodes(env, policy, list(range(40)), None, 8, progress=False))
    # The same claim draws other questions when the answers differ (genuine/impostor).
    by_claim: dict[tuple, set] = {}
    for record in records:
        by_claim.setdefault(tuple(record.claim), set()).add(tuple(record.actions))
    assert any(len(plays) > 1 for plays in by_claim.values())


def test_cloning_fits_the_network_to_the_heuristic(stub_env_kwargs):
    env = auth_env(stub_env_kwargs)
    x, y = demonstrations(env, "claim", 120, progress=False)
    assert x.shape == (120 * 4, env.observation_space.shape[0]) and len(y) == len(x)
    model = PPO("MlpPolicy", env, seed=0, device="cpu", n_steps=16, batch_size=16)
    before = (model.predict(x, deterministic=True)[0] == y).mean()
    agreement = clone(model.policy, x, y, epochs=40, progress=False)
    after = (model.predict(x, deterministic=True)[0] == y).mean()
    assert agreement == pytest.approx(after, abs=1e-6)
    assert after > 0.8 and after > before + 0.3


def test_warm_start_settings_are_checked(stub_env_kwargs):
    authentication = EnvConfig(task="authentication")
    # The claim is the partner's own persona in identification: cloning it would cheat.
    with pytest.raises(InvalidArgumentError, match="does not play task 'identification'"):
        train_policy.TrainConfig(warm_start="claim")
    with pytest.raises(InvalidArgumentError, match="algorithm ppo"):
        train_policy.TrainConfig(warm_start="claim", env=authentication, algorithm="dqn")
    with pytest.raises(InvalidArgumentError, match="warm_start='lookahead'"):
        train_policy.TrainConfig(warm_start="lookahead", env=authentication)
    with pytest.raises(InvalidArgumentError, match="is none of"):
        train_policy.TrainConfig(warm_start="nope", env=authentication)
    with pytest.raises(InvalidArgumentError, match="'identification' fairly"):
        teacher("claim", PersonaInterviewEnv(personas=PERSONAS, **stub_env_kwargs))


@pytest.mark.slow
def test_train_warm_started_from_the_claim_heuristic(tmp_path, default_components):
    config = train_policy.TrainConfig(
        env=EnvConfig(task="authentication", max_turns=4), warm_start="claim",
        warm_start_episodes=48, timesteps=64, n_envs=4, eval_every=10_000, eval_episodes=4,
        out=str(tmp_path), progress=False,
    )  # fmt: skip
    path = train_policy.train(config)
    settings = json.loads((path.parent / "settings.json").read_text())
    assert settings["warm_start"] == "claim" and settings["warm_start_agreement"] > 0.8
