"""The env's contract, on fast stand-in agents (the real default is in test_default_env.py)."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import convenv
from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError


def rollout(env, seed, actions):
    obs, info = env.reset(seed=seed)
    trace = [obs, info["persona"], info["candidates"]]
    for a in actions:
        obs, reward, terminated, _truncated, info = env.step(a)
        trace += [obs, reward, terminated, info["question"], info["answer"], info["metrics"]]
    return trace


def same(a, b):
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def test_checkers_pass_without_warnings(stub_env_kwargs):
    env = PersonaInterviewEnv(**stub_env_kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(env, skip_render_check=True)
        sb3_check_env(env, warn=True)


def test_spaces_and_episode_shape(stub_env_kwargs):
    env = PersonaInterviewEnv(**stub_env_kwargs, max_turns=3, render_mode="ansi")
    assert env.action_space == gym.spaces.Discrete(11)
    assert env.observation_space.shape == (64 + 11 + 11 + 1,)
    obs, info = env.reset(seed=3)
    assert obs[-1] == 0.0 and not obs[:-1].any()
    assert len(info["candidates"]) == len(info["persona"]) + 20
    total = 0.0
    for turn in range(3):
        obs, reward, terminated, truncated, info = env.step(1)
        total += reward
        assert terminated == (turn == 2) and not truncated
        assert info["code"] == "ask about pets." and info["answer"] in info["persona"]
    assert obs[64 + 1] == 1.0 and obs[64 + 2] == 0.0  # pets asked, work not
    assert obs[64 + 11 + 1] == pytest.approx(1.0)  # pets used 3 of 3 turns
    assert obs[-1] == pytest.approx(1.0)
    # delta rewards telescope to the final metric
    assert total == pytest.approx(info["metrics"]["auc"])
    text = env.render()
    assert "[ask about pets]" in text and "identification:" in text


def test_terminal_reward_mode(stub_env_kwargs):
    env = PersonaInterviewEnv(
        **stub_env_kwargs, max_turns=2, reward_mode="terminal", reward_metric="mrr"
    )
    env.reset(seed=0)
    _, r1, *_ = env.step(0)
    _, r2, _, _, info = env.step(2)
    assert r1 == 0.0 and r2 == info["metrics"]["mrr"]


def test_same_seed_same_episode(stub_env_kwargs):
    actions = [0, 4, 4, 7, 10, 1, 2, 3]
    a = rollout(PersonaInterviewEnv(**stub_env_kwargs), 42, actions)
    b = rollout(PersonaInterviewEnv(**stub_env_kwargs), 42, actions)
    c = rollout(PersonaInterviewEnv(**stub_env_kwargs), 43, actions)
    assert all(same(x, y) for x, y in zip(a, b, strict=True))
    assert not same(a[1], c[1]) or not same(a[2], c[2])


def test_options_pin_persona_and_split(stub_env_kwargs):
    env = PersonaInterviewEnv(**stub_env_kwargs, split="test")
    _, info = env.reset(seed=0, options={"persona": ["i have a dog.", "i am a nurse."]})
    assert info["persona"] == ("i have a dog.", "i am a nurse.")
    assert sum(c in info["persona"] for c in info["candidates"]) == 2
    _, info = env.reset(seed=0, options={"persona_index": 5})
    assert info["persona"] == env.personas[5]
    assert info["persona"] in convenv.personachat.load_personas("test")


def test_bad_input_raises_clear_errors(stub_env_kwargs):
    env = PersonaInterviewEnv(**stub_env_kwargs)
    with pytest.raises(InvalidArgumentError, match="before reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(InvalidArgumentError, match=r"action=11 is out of range"):
        env.step(11)
    with pytest.raises(InvalidArgumentError, match=r"action=-1 is out of range"):
        env.step(-1)
    with pytest.raises(InvalidArgumentError, match="at least one non-empty fact"):
        env.reset(options={"persona": []})
    with pytest.raises(InvalidArgumentError, match="unknown keys"):
        env.reset(options={"persona_id": 3})
    with pytest.raises(InvalidArgumentError, match="persona_index"):
        env.reset(options={"persona_index": 10**6})
    with pytest.raises(InvalidArgumentError, match="split="):
        PersonaInterviewEnv(**stub_env_kwargs, split="valid")
    with pytest.raises(InvalidArgumentError, match="personas\\[1\\]"):
        PersonaInterviewEnv(**stub_env_kwargs, personas=[["i run."], []])
    with pytest.raises(InvalidArgumentError, match="reward_metric="):
        PersonaInterviewEnv(**stub_env_kwargs, reward_metric="accuracy")
    with pytest.raises(InvalidArgumentError, match="partner="):
        PersonaInterviewEnv(**{**stub_env_kwargs, "partner": "gpt4"})
    with pytest.raises(InvalidArgumentError, match="render_mode="):
        PersonaInterviewEnv(**stub_env_kwargs, render_mode="human")


def test_custom_actions_change_the_action_space(stub_env_kwargs):
    env = PersonaInterviewEnv(**stub_env_kwargs, actions=["ask about sports", "ask about books"])
    assert env.action_space.n == 2
    env.reset(seed=0)
    *_, info = env.step(1)
    assert info["code"] == "ask about books."


def test_registered_ids():
    assert "convenv/PersonaInterview-v1" in gym.registry
    assert gym.registry["convenv/PersonaInterviewEval-v1"].kwargs == {
        "split": "test",
        "task": "identification",
    }


def test_bad_inputs_get_one_clear_error_naming_the_argument(stub_env_kwargs):
    from convenv.vec_env import BatchedDialogVecEnv

    with pytest.raises(InvalidArgumentError, match="pool_dialogs=-1"):
        PersonaInterviewEnv(partner=stub_env_kwargs["partner"], interviewer="retrieval",
                            pool_dialogs=-1)  # fmt: skip
    with pytest.raises(InvalidArgumentError, match="pool_dialogs=0"):
        PersonaInterviewEnv(interviewer="retrieval", pool_dialogs=0)
    with pytest.raises(InvalidArgumentError, match="max_turns=True"):
        PersonaInterviewEnv(**stub_env_kwargs, max_turns=True)
    assert PersonaInterviewEnv(**stub_env_kwargs, max_turns=np.int64(3)).engine.max_turns == 3
    with pytest.raises(InvalidArgumentError, match=r"actions\[0\]=1"):
        PersonaInterviewEnv(**stub_env_kwargs, actions=[1, 2])
    env = PersonaInterviewEnv(**stub_env_kwargs)
    env.reset(seed=0)
    for bad in (float("inf"), "3", True, 2.5, None):
        with pytest.raises(InvalidArgumentError, match="action="):
            env.step(bad)
    with pytest.raises(InvalidArgumentError, match="holds something other than strings"):
        env.reset(options={"persona": [None]})
    with pytest.raises(InvalidArgumentError, match="both 'persona' and 'persona_index'"):
        env.reset(options={"persona": ["i have a dog."], "persona_index": 0})
    small = PersonaInterviewEnv(**stub_env_kwargs, personas=[("a b.", "c d."), ("e f.", "g h.")],
                                n_negatives=100_000)  # fmt: skip
    with pytest.raises(InvalidArgumentError, match="n_negatives=100000 is more than"):
        small.reset(seed=0)
    vec = BatchedDialogVecEnv(3, env=PersonaInterviewEnv(**stub_env_kwargs))
    vec.reset()
    with pytest.raises(InvalidArgumentError, match="actions has 2 entries"):
        vec.step(np.array([1, 2]))
