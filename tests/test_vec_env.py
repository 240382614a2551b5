"""BatchedDialogVecEnv: SB3's VecEnv contract and equivalence with independent envs."""

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecMonitor

from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError
from convenv.vec_env import BatchedDialogVecEnv


class CountingAgent:
    """Wraps an agent and counts how many batched calls it gets."""

    def __init__(self, agent):
        self.agent, self.calls, self.sizes = agent, 0, []

    def respond(self, contexts):
        self.calls += 1
        self.sizes.append(len(contexts))
        return self.agent.respond(contexts)


def test_one_call_per_stage_per_step(stub_env_kwargs):
    partner = CountingAgent(stub_env_kwargs["partner"])
    interviewer = CountingAgent(stub_env_kwargs["interviewer"])
    venv = BatchedDialogVecEnv(
        6, partner=partner, interviewer=interviewer, identifier=stub_env_kwargs["identifier"]
    )
    venv.reset()
    for _ in range(3):
        venv.step(np.arange(6) % 11)
    assert partner.calls == interviewer.calls == 3
    assert partner.sizes == [6, 6, 6]
    assert len({id(env.engine) for env in venv.envs}) == 1


def test_auto_reset_and_terminal_observation(stub_env_kwargs):
    venv = BatchedDialogVecEnv(3, max_turns=2, **stub_env_kwargs)
    venv.seed(5)
    first = venv.reset()
    personas = [info["persona"] for info in venv.reset_infos]
    _, _, dones, _ = venv.step(np.array([0, 1, 2]))
    assert not dones.any()
    obs, rewards, dones, infos = venv.step(np.array([3, 4, 5]))
    assert dones.all()
    for i, info in enumerate(infos):
        assert info["TimeLimit.truncated"] is False
        terminal = info["terminal_observation"]
        assert terminal[-1] == pytest.approx(1.0)  # the last observation of the old episode
        assert obs[i][-1] == 0.0  # ...and the first of the new one
    assert first.shape == obs.shape == (3, venv.observation_space.shape[0])
    assert rewards.dtype == np.float32
    new_personas = [info["persona"] for info in venv.reset_infos]
    assert new_personas != personas  # the auto-reset drew new episodes


def test_equivalent_to_independent_envs(default_components):
    """Same seeds → same personas, candidates, dialogs and rewards (deterministic agents)."""
    n, seed = 4, 11
    venv = BatchedDialogVecEnv(n, max_turns=3)
    venv.seed(seed)
    obs = venv.reset()
    singles = [PersonaInterviewEnv(max_turns=3) for _ in range(n)]
    single_obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(singles)]
    np.testing.assert_array_equal(obs, np.stack(single_obs))
    rng = np.random.default_rng(0)
    for _ in range(7):  # crosses two auto-resets
        actions = rng.integers(11, size=n)
        obs, rewards, dones, infos = venv.step(actions)
        for i, env in enumerate(singles):
            o, r, terminated, _, info = env.step(actions[i])
            assert (info["question"], info["answer"]) == (infos[i]["question"], infos[i]["answer"])
            assert r == pytest.approx(rewards[i]) and terminated == dones[i]
            if terminated:
                np.testing.assert_array_equal(o, infos[i]["terminal_observation"])
                o, _ = env.reset()
            np.testing.assert_array_equal(o, obs[i])


def test_vec_env_methods(stub_env_kwargs):
    venv = BatchedDialogVecEnv(2, render_mode="ansi", **stub_env_kwargs)
    venv.reset()
    venv.step(np.array([0, 1]))
    assert venv.get_attr("split") == ["train", "train"]
    venv.set_attr("split", "x", indices=[1])
    assert venv.get_attr("split") == ["train", "x"]
    texts = venv.env_method("render")
    assert "[ask about family]" in texts[0] and "[ask about pets]" in texts[1]
    assert "--- env 1 ---" in venv.render()
    assert venv.env_is_wrapped(VecMonitor) == [False, False]
    with pytest.raises(InvalidArgumentError, match="n_envs=0"):
        BatchedDialogVecEnv(0, **stub_env_kwargs)


def test_ppo_trains_on_the_batched_env(stub_env_kwargs):
    venv = VecMonitor(BatchedDialogVecEnv(4, max_turns=4, **stub_env_kwargs))
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    assert model.num_timesteps >= 256
    assert len(model.ep_info_buffer) > 0  # VecMonitor saw finished episodes
