"""The engine's per-episode state stays exact however episodes are grouped into batches."""

import numpy as np

from convenv.env import PersonaInterviewEnv


def test_any_grouping_of_episodes_gives_the_single_env_results(stub_env_kwargs):
    """Stacked state (counters, scores, masks) is reused while a batch repeats and
    rebuilt when it changes; each episode must still match an env stepped alone."""
    template = PersonaInterviewEnv(**stub_env_kwargs, max_turns=8)
    shared = [template] + [PersonaInterviewEnv.sharing(template) for _ in range(2)]
    alone = [PersonaInterviewEnv(**stub_env_kwargs, max_turns=8) for _ in range(3)]
    for seed, (a, b) in enumerate(zip(shared, alone, strict=True)):
        a.reset(seed=seed)
        b.reset(seed=seed)
    engine = template.engine
    schedule = [[0, 1], [0, 1], [0], [1, 0], [0, 1, 2], [2], "reset 2", [0, 1, 2], [2, 1, 0]]
    rng = np.random.default_rng(0)
    last = [np.zeros(template.observation_space.shape, np.float32) for _ in range(3)]
    for batch in schedule:
        if batch == "reset 2":  # a new episode joins episodes already under way
            shared[2].reset(seed=10)
            last[2] = alone[2].reset(seed=10)[0]
            continue
        actions = rng.integers(11, size=len(batch))
        result = engine.step([shared[i].episode for i in batch], actions)
        for row, (i, action) in enumerate(zip(batch, actions, strict=True)):
            obs, reward, terminated, _, info = alone[i].step(int(action))
            last[i] = obs
            np.testing.assert_array_equal(result.observations[row], obs)
            assert result.rewards[row] == reward and result.terminated[row] == terminated
            assert result.infos[row]["metrics"] == info["metrics"]
        for i in set(range(3)) - set(batch):  # not stepped: unchanged
            np.testing.assert_array_equal(engine.observation(shared[i].episode), last[i])
