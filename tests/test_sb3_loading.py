"""Saved SB3 models load without unpickling: a crafted model.zip runs no code, and a
plain ``model.save()`` zip (with a ``VecNormalize`` beside it) acts as it did."""

from __future__ import annotations

import base64
import json
import pickle
import zipfile

import numpy as np
import pytest
from stable_baselines3 import A2C, DQN, PPO

from convenv.env import PersonaInterviewEnv
from convenv.errors import DataFileError, InvalidArgumentError
from convenv.policies.registry import PolicyContext
from convenv.policies.registry import make_policies as make


def make_policies(specs, env):
    return make(specs, PolicyContext(env))


class Payload:
    """Unpickling this creates a file: the proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def crafted_zip(path, marker) -> None:
    evil = base64.b64encode(pickle.dumps(Payload(str(marker)))).decode()
    data = {"policy_class": {":type:": "<class 'type'>", ":serialized:": evil}}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data", json.dumps(data))


def test_crafted_zip_without_settings_is_refused_and_runs_nothing(tmp_path, stub_env_kwargs):
    env = PersonaInterviewEnv(**stub_env_kwargs)
    model, marker = tmp_path / "model.zip", tmp_path / "pwned"
    crafted_zip(model, marker)
    with pytest.raises(DataFileError, match="policy class"):
        make_policies([str(model)], env)
    assert not marker.exists()


def test_crafted_zip_with_settings_runs_nothing(tmp_path, stub_env_kwargs):
    env = PersonaInterviewEnv(**stub_env_kwargs)
    model, marker = tmp_path / "model.zip", tmp_path / "pwned"
    crafted_zip(model, marker)
    (tmp_path / "settings.json").write_text(json.dumps({"algorithm": "ppo"}))
    with pytest.raises(DataFileError, match="policy class"):
        make_policies([str(model)], env)
    assert not marker.exists()


@pytest.mark.parametrize("algorithm", [PPO, A2C, DQN])
def test_saved_models_of_each_algorithm_act_the_same_after_loading(
    tmp_path, stub_env_kwargs, algorithm
):
    env = PersonaInterviewEnv(**stub_env_kwargs, max_turns=3)
    kwargs = {"learning_starts": 0} if algorithm is DQN else {}
    model = algorithm("MlpPolicy", env, seed=0, device="cpu", **kwargs)
    model.learn(64)
    model.save(tmp_path / "model.zip")
    (tmp_path / "settings.json").write_text(json.dumps({"algorithm": algorithm.__name__.lower()}))
    (policy,) = make_policies([str(tmp_path / "model.zip")], env)
    assert policy.name == f"{algorithm.__name__.lower()}:{tmp_path.name}"
    observations = np.random.default_rng(0).uniform(-1, 1, (32, *env.observation_space.shape))
    expected, _ = model.predict(observations.astype(np.float32), deterministic=True)
    assert np.array_equal(policy.act(observations.astype(np.float32)), expected)


def test_a_model_of_another_task_is_a_clear_error(tmp_path, stub_env_kwargs):
    env = PersonaInterviewEnv(**stub_env_kwargs, max_turns=3)
    PPO("MlpPolicy", env, device="cpu").save(tmp_path / "model.zip")
    (tmp_path / "settings.json").write_text(json.dumps({"algorithm": "ppo"}))
    other = PersonaInterviewEnv(
        **stub_env_kwargs, task="authentication", personas=[("a b.", "c d."), ("e f.", "g h.")]
    )
    with pytest.raises(InvalidArgumentError, match="reads observations of shape"):
        make_policies([str(tmp_path / "model.zip")], other)


@pytest.mark.parametrize("algorithm", [PPO, DQN])
def test_a_plain_sb3_zip_with_its_own_network_loads(tmp_path, stub_env_kwargs, algorithm):
    import torch

    env = PersonaInterviewEnv(**stub_env_kwargs, max_turns=3)
    kwargs = {"learning_starts": 0} if algorithm is DQN else {}
    network = {"net_arch": [32, 16], "activation_fn": torch.nn.ReLU}
    model = algorithm("MlpPolicy", env, seed=1, device="cpu", policy_kwargs=network, **kwargs)
    model.learn(64)
    model.save(tmp_path / "plain.zip")  # no settings.json: SB3's own file
    (policy,) = make_policies([str(tmp_path / "plain.zip")], env)
    observations = np.random.default_rng(1).uniform(-1, 1, (32, *env.observation_space.shape))
    expected, _ = model.predict(observations.astype(np.float32), deterministic=True)
    assert np.array_equal(policy.act(observations.astype(np.float32)), expected)
    assert policy.name.startswith(algorithm.__name__.lower() + ":")


def test_a_saved_vecnormalize_is_applied(tmp_path, stub_env_kwargs):
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    template = PersonaInterviewEnv(**stub_env_kwargs, max_turns=3)
    venv = VecNormalize(DummyVecEnv([lambda: PersonaInterviewEnv.sharing(template)]))
    model = PPO("MlpPolicy", venv, seed=0, device="cpu", n_steps=32, batch_size=32)
    model.learn(64)
    model.save(tmp_path / "model.zip")
    venv.save(tmp_path / "vecnormalize.pkl")
    (policy,) = make_policies([str(tmp_path / "model.zip")], template)
    raw = np.random.default_rng(2).uniform(-1, 1, (16, *template.observation_space.shape))
    raw = raw.astype(np.float32)
    venv.training = False
    expected, _ = model.predict(venv.normalize_obs(raw), deterministic=True)
    assert np.array_equal(policy.act(raw), expected)
    assert policy.normalizer is not None


def test_a_crafted_vecnormalize_runs_nothing(tmp_path):
    from convenv.policies.sb3 import read_vecnormalize

    marker = tmp_path / "pwned"
    (tmp_path / "vecnormalize.pkl").write_bytes(pickle.dumps(Payload(str(marker))))
    with pytest.raises(DataFileError, match="VecNormalize"):
        read_vecnormalize(tmp_path / "vecnormalize.pkl")
    assert not marker.exists()
