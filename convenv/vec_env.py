"""BatchedDialogVecEnv: N interviews, one batched model call per stage per step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

from convenv.config import EnvConfig
from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError, positive_int


class BatchedDialogVecEnv(VecEnv):
    """An SB3 ``VecEnv`` of N :class:`PersonaInterviewEnv` that share one set of models.

    Resets go through each sub-env's own ``reset`` (so seeds and personas are exactly
    those of N independent envs); steps run the interviewer, the partner and the
    identifier once for all N episodes through the sub-envs' shared engine.
    Finished episodes reset themselves (each sub-env starts its own next episode, all
    of them observed in one call); their last observation is in
    ``info["terminal_observation"]`` and ``info["TimeLimit.truncated"]`` is set as in
    SB3's ``DummyVecEnv``.

    Args:
        n_envs: Number of parallel interviews.
        config: The env's :class:`~convenv.config.EnvConfig` (or its fields as ``options``).
        env: A template env whose engine is shared (instead of a config).
        **options: Options of :class:`PersonaInterviewEnv`.
    """

    def __init__(
        self,
        n_envs: int = 8,
        config: EnvConfig | None = None,
        env: PersonaInterviewEnv | None = None,
        **options: Any,
    ):
        n_envs = positive_int(n_envs, "n_envs")
        if env is not None and (options or config is not None):
            raise InvalidArgumentError("pass either env or a config (or options), not both.")
        first = env if env is not None else PersonaInterviewEnv(config, **options)
        self.envs = [first] + [PersonaInterviewEnv.sharing(first) for _ in range(n_envs - 1)]
        super().__init__(n_envs, first.observation_space, first.action_space)
        self.render_mode = first.render_mode
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        observations = []
        for i, env in enumerate(self.envs):
            options = {"options": self._options[i]} if self._options[i] else {}
            obs, self.reset_infos[i] = env.reset(seed=self._seeds[i], **options)
            observations.append(obs)
        self._reset_seeds()
        self._reset_options()
        return np.stack(observations)

    def step_async(self, actions: np.ndarray) -> None:
        array = np.asarray(actions)
        if array.size != self.num_envs:
            raise InvalidArgumentError(
                f"actions has {array.size} entries (shape {array.shape}) for {self.num_envs} "
                f"envs; pass one action per env, shape ({self.num_envs},)."
            )
        self._actions = array.reshape(self.num_envs)

    def step_wait(self):
        if self._actions is None:
            raise InvalidArgumentError("step_wait() without step_async(actions); call step().")
        if any(env.episode is None for env in self.envs):
            raise InvalidArgumentError("step() called before reset(); call reset() first.")
        batch = self.envs[0].step_episodes([env.episode for env in self.envs], self._actions)
        self._actions = None
        observations = batch.observations
        finished = np.flatnonzero(batch.terminated)
        for i in finished:
            batch.infos[i]["terminal_observation"] = observations[i].copy()
            self.reset_infos[i] = self.envs[i].begin_episode()
        if len(finished):
            # Episodes of one length all end on the same step: observed in one call.
            observations[finished] = self.envs[0].observe([self.envs[i].episode for i in finished])
        for info in batch.infos:
            info["TimeLimit.truncated"] = False  # interviews end by design, never by a time limit
        return observations, batch.rewards.astype(np.float32), batch.terminated.copy(), batch.infos

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def _targets(self, indices: VecEnvIndices) -> list[PersonaInterviewEnv]:
        return [self.envs[i] for i in self._get_indices(indices)]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(env, attr_name) for env in self._targets(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        for env in self._targets(indices):
            setattr(env, attr_name, value)

    def env_method(
        self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs
    ) -> list[Any]:
        return [
            getattr(env, method_name)(*method_args, **method_kwargs)
            for env in self._targets(indices)
        ]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        # The sub-envs are bare PersonaInterviewEnv objects: nothing wraps them.
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        """Each sub-env's frame (``render_mode="rgb_array"``: the transcript drawn)."""
        if self.render_mode != "rgb_array":
            return [None for _ in self.envs]
        return [env.render() for env in self.envs]

    def render(self, mode: str | None = None):
        """The transcripts of all sub-envs (``render_mode="ansi"``), or SB3's tiled
        frames (``"rgb_array"``)."""
        if self.render_mode == "rgb_array":
            return super().render(mode)
        texts = [env.render() for env in self.envs]
        if any(t is None for t in texts):
            return None
        return "\n".join(f"--- env {i} ---\n{t}" for i, t in enumerate(texts))
