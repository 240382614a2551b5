"""Saved SB3 models load without unpickling: a crafted model.zip runs no code."""

from __future__ import annotations

import base64
import json
import pickle
import zipfile

import numpy as np
import pytest
from stable_baselines3 import A2C, DQN, PPO

from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError
from convenv.training.policy_specs import make_policies


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
    with pytest.raises(InvalidArgumentError, match=r"settings\.json"):
        make_policies([str(model)], env)
    assert not marker.exists()


def test_crafted_zip_with_settings_runs_nothing(tmp_path, stub_env_kwargs):
    env = PersonaInterviewEnv(**stub_env_kwargs)
    model, marker = tmp_path / "model.zip", tmp_path / "pwned"
    crafted_zip(model, marker)
    (tmp_path / "settings.json").write_text(json.dumps({"algorithm": "ppo"}))
    with pytest.raises(InvalidArgumentError, match="does not fit"):
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
    with pytest.raises(InvalidArgumentError, match="does not fit this env"):
        make_policies([str(tmp_path / "model.zip")], other)
