"""What a user who follows Gymnasium's and SB3's habits does first: SB3's
``make_vec_env`` on the registered id, an ``rgb_array`` frame, a video of episodes
with Gymnasium's ``RecordVideo``, and pickling the env."""

from __future__ import annotations

import pickle

import numpy as np

from convenv.env import PersonaInterviewEnv


def test_sb3_make_vec_env_on_the_registered_id():
    from stable_baselines3.common.env_util import make_vec_env

    import convenv  # noqa: F401  (registers the ids)

    venv = make_vec_env("convenv/PersonaInterview-v1", n_envs=2, seed=0)
    observations = venv.reset()
    assert observations.shape == (2, *venv.observation_space.shape)
    _, rewards, _, infos = venv.step(np.array([0, 1]))
    assert rewards.shape == (2,) and len(infos) == 2
    venv.close()


def test_an_rgb_array_frame_of_the_dialog(stub_env_kwargs):
    env = PersonaInterviewEnv(render_mode="rgb_array", **stub_env_kwargs)
    env.reset(seed=0)
    env.step(1)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.std() > 0  # text was drawn, not a blank image


def test_record_video_writes_an_episode_of_the_registered_env(tmp_path):
    import gymnasium as gym
    from gymnasium.wrappers import RecordVideo

    import convenv  # noqa: F401  (registers the ids)

    env = gym.make("convenv/PersonaInterview-v1", render_mode="rgb_array", max_turns=2)
    env = RecordVideo(env, str(tmp_path / "videos"), episode_trigger=lambda episode: True,
                      disable_logger=True)  # fmt: skip
    env.reset(seed=0)
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        done = terminated or truncated
    env.close()
    (video,) = (tmp_path / "videos").glob("*.mp4")
    assert video.stat().st_size > 1_000


def test_the_env_round_trips_through_pickle(stub_env_kwargs):
    env = PersonaInterviewEnv(**stub_env_kwargs)
    env.reset(seed=3)
    env.step(2)
    copy = pickle.loads(pickle.dumps(env))
    for action in (4, 0, 7):
        first, second = env.step(action), copy.step(action)
        np.testing.assert_array_equal(first[0], second[0])
        assert first[1] == second[1] and first[4]["answer"] == second[4]["answer"]
