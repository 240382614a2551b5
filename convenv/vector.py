"""BatchedInterviewVectorEnv: a Gymnasium ``VectorEnv`` over the shared interview engine.

It is the ``vector_entry_point`` of every convenv id, so
``gym.make_vec("convenv/PersonaInterview-v0", num_envs=16)`` returns it (and RLlib's
env runners build it with ``gym_env_vectorize_mode="vector_entry_point"``). Like
SB3's :class:`~convenv.vec_env.BatchedDialogVecEnv` it steps every episode through
one :meth:`InterviewEngine.step` call, so its episodes equal ``SyncVectorEnv``'s over
the same seeds; it follows Gymnasium 1.x conventions: ``NEXT_STEP`` autoreset (an
episode that ended is reset by the following ``step``, whose action for it is
ignored) and infos in Gymnasium's vector layout (arrays with ``_key`` masks).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from convenv.config import EnvConfig
from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError, positive_int


class BatchedInterviewVectorEnv(VectorEnv):
    """``num_envs`` interviews that share one engine (one copy of every model).

    Args:
        num_envs: Parallel interviews.
        config: The env's :class:`~convenv.config.EnvConfig` (or its fields as ``options``).
        env: A template env whose engine is shared (instead of a config).
        **options: Options of :class:`PersonaInterviewEnv` (what the env id's ``kwargs``
            hold, e.g. ``split`` and ``task``).
    """

    metadata: ClassVar[dict[str, Any]] = {
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": ["ansi", "rgb_array"],
    }

    def __init__(
        self,
        num_envs: int = 8,
        config: EnvConfig | None = None,
        env: PersonaInterviewEnv | None = None,
        **options: Any,
    ) -> None:
        self.num_envs = positive_int(num_envs, "num_envs")
        if env is not None and (options or config is not None):
            raise InvalidArgumentError("pass either env or a config (or options), not both.")
        first = env if env is not None else PersonaInterviewEnv(config, **options)
        self.envs = [first] + [PersonaInterviewEnv.sharing(first) for _ in range(num_envs - 1)]
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = first.render_mode
        self._observations = np.zeros(self.observation_space.shape, np.float32)
        self._autoreset = np.zeros(self.num_envs, np.bool_)

    def _seeds(self, seed: int | Sequence[int | None] | None) -> list[int | None]:
        if seed is None:
            return [None] * self.num_envs
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            return [int(seed) + i for i in range(self.num_envs)]
        seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise InvalidArgumentError(
                f"seed has {len(seeds)} entries for {self.num_envs} envs; pass an int or one "
                "seed per env."
            )
        return seeds

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every env (or those in ``options["reset_mask"]``), as ``SyncVectorEnv``:
        an int seed gives env ``i`` the seed ``seed + i``."""
        seeds = self._seeds(seed)
        options = dict(options) if options else {}
        mask = options.pop("reset_mask", None)
        if mask is None:
            mask = np.ones(self.num_envs, np.bool_)
        elif (
            not isinstance(mask, np.ndarray)
            or mask.dtype != np.bool_
            or mask.shape != (self.num_envs,)
            or not mask.any()
        ):
            raise InvalidArgumentError(
                f"options['reset_mask'] must be a bool array of shape ({self.num_envs},) with "
                "at least one True."
            )
        infos: dict[str, Any] = {}
        for i in np.flatnonzero(mask):
            self._observations[i], info = self.envs[i].reset(seed=seeds[i], options=options or None)
            infos = self._add_info(infos, info, int(i))
        self._autoreset[mask] = False
        return self._observations.copy(), infos

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One turn of every interview: one batched engine call for the envs that go on;
        envs whose episode ended at the previous step reset instead (NEXT_STEP)."""
        actions = np.asarray(actions)
        if actions.size != self.num_envs:
            raise InvalidArgumentError(
                f"actions has {actions.size} entries (shape {actions.shape}) for "
                f"{self.num_envs} envs; pass one action per env, shape ({self.num_envs},)."
            )
        actions = actions.reshape(self.num_envs)
        if any(env.episode is None for env in self.envs):
            raise InvalidArgumentError("step() called before reset(); call reset() first.")
        rewards = np.zeros(self.num_envs, np.float64)
        terminated = np.zeros(self.num_envs, np.bool_)
        truncated = np.zeros(self.num_envs, np.bool_)  # interviews end by design only
        infos: dict[str, Any] = {}
        resetting = np.flatnonzero(self._autoreset)
        going = np.flatnonzero(~self._autoreset)
        if len(going):
            batch = self.envs[0].step_episodes(
                [self.envs[i].episode for i in going], actions[going]
            )
            self._observations[going] = batch.observations
            rewards[going] = batch.rewards
            terminated[going] = batch.terminated
            for i, info in zip(going, batch.infos, strict=True):
                infos = self._add_info(infos, info, int(i))
        for i in resetting:
            self._observations[i], info = self.envs[i].reset()
            infos = self._add_info(infos, info, int(i))
        self._autoreset = terminated | truncated
        return self._observations.copy(), rewards, terminated, truncated, infos

    def render(self) -> tuple | None:
        """Every env's transcript (``render_mode="ansi"``) or frame (``"rgb_array"``)."""
        if self.render_mode is None:
            return None
        return tuple(env.render() for env in self.envs)

    def close_extras(self, **kwargs: Any) -> None:
        # getattr: Gymnasium closes from __del__ even when __init__ refused its input.
        for env in getattr(self, "envs", ()):
            env.close()
