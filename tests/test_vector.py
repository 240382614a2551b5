"""The Gymnasium VectorEnv: the same episodes as SyncVectorEnv, Gymnasium's checks."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import convenv  # noqa: F401  (registers the ids)
from convenv.errors import InvalidArgumentError
from convenv.vector import BatchedInterviewVectorEnv


def same(a, b) -> bool:
    from gymnasium.utils.env_checker import data_equivalence

    return data_equivalence(a, b, exact=True)


@pytest.mark.parametrize("task", ["identification", "authentication"])
def test_equals_sync_vector_env_step_for_step_with_autoresets(stub_env_kwargs, task):
    kwargs = {**stub_env_kwargs, "max_turns": 3, "task": task}
    ours = gym.make_vec("convenv/PersonaInterview-v1", num_envs=4, **kwargs)
    assert isinstance(ours, BatchedInterviewVectorEnv)
    assert ours.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    sync = gym.make_vec(
        "convenv/PersonaInterview-v1", num_envs=4, vectorization_mode="sync", **kwargs
    )
    rng = np.random.default_rng(0)
    a, b = ours.reset(seed=11), sync.reset(seed=11)
    assert same(a[0], b[0]) and same(a[1], b[1])
    for step in range(10):  # three autoresets per env
        actions = rng.integers(0, 11, size=4)
        got, expected = ours.step(actions), sync.step(actions)
        for x, y in zip(got, expected, strict=True):
            assert same(x, y), step
    ours.close()
    sync.close()


def test_follows_the_vector_env_contract(stub_env_kwargs):
    """What Gymnasium's own vector tests check: spaces, dtypes, seeding, NEXT_STEP."""
    from gymnasium.utils.env_checker import data_equivalence

    envs = BatchedInterviewVectorEnv(3, **stub_env_kwargs, max_turns=2)
    assert envs.action_space == gym.spaces.MultiDiscrete([11, 11, 11])
    assert envs.observation_space.shape == (3, *envs.single_observation_space.shape)
    obs, infos = envs.reset(seed=3)
    assert obs in envs.observation_space and isinstance(infos, dict)
    again, _ = BatchedInterviewVectorEnv(3, **stub_env_kwargs, max_turns=2).reset(seed=3)
    assert data_equivalence(obs, again, exact=True)
    envs.action_space.seed(0)
    for step in range(6):
        obs, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
        assert obs in envs.observation_space
        assert rewards.dtype == np.float64 and rewards.shape == (3,)
        assert terminated.dtype == truncated.dtype == np.bool_ and not truncated.any()
        # 2-turn episodes: turn, last turn, then a step that only resets (NEXT_STEP).
        assert terminated.all() == (step % 3 == 1) and terminated.any() == (step % 3 == 1)
        if step % 3 == 2:
            assert not rewards.any() and "candidates" in infos and "question" not in infos


def test_reset_mask_and_bad_input(stub_env_kwargs):
    envs = BatchedInterviewVectorEnv(3, **stub_env_kwargs, max_turns=2)
    envs.reset(seed=0)
    before = [env.episode for env in envs.envs]
    _, infos = envs.reset(seed=5, options={"reset_mask": np.array([False, True, False])})
    after = [env.episode for env in envs.envs]
    assert after[0] is before[0] and after[2] is before[2] and after[1] is not before[1]
    assert infos["_candidates"].tolist() == [False, True, False]
    with pytest.raises(InvalidArgumentError, match="actions has 2 entries"):
        envs.step(np.array([1, 2]))
    with pytest.raises(InvalidArgumentError, match="seed has 2 entries"):
        envs.reset(seed=[1, 2])
    with pytest.raises(InvalidArgumentError, match="num_envs=0"):
        BatchedInterviewVectorEnv(0, **stub_env_kwargs)
