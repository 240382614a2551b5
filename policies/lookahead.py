"""The lookahead bound: it cheats, on purpose, to show what a policy could reach.

Before each turn it forks every episode once per code, plays that code in the fork
with the turn's own seeds (so it sees the answer each code *will* get), and plays
the code whose fork ends the turn with the best signed reward metric: it knows the
partner's truth. No real policy can do this; a learned policy is judged by how much
of the gap from the best fixed sequence to this bound it closes.
"""

from __future__ import annotations

import numpy as np

from convenv.errors import InvalidArgumentError, positive_int
from convenv.policies.base import ActionPolicy


class LookaheadPolicy(ActionPolicy):
    """One-step lookahead over every code (see the module docstring).

    Args:
        n_codes: Number of action codes.
        batch_size: Forks stepped in one engine call.
    """

    name = "lookahead"

    def __init__(self, n_codes: int, batch_size: int = 256) -> None:
        self.n_codes = positive_int(n_codes, "n_codes")
        self.batch_size = positive_int(batch_size, "batch_size")
        self.env = None
        self._episodes: dict[int, object] = {}

    def __getstate__(self) -> dict:
        # Sent to a worker it plays on the worker's env, not on a copy of this one's.
        return {**self.__dict__, "env": None, "_episodes": {}}

    def attach(self, env) -> None:
        self.env = env

    def watch(self, env_index: int, episode) -> None:
        self._episodes[env_index] = episode

    def act(self, observations: np.ndarray) -> np.ndarray:
        if self.env is None:
            raise InvalidArgumentError(
                "the lookahead plays through convenv.rollout.run_episodes (it needs the env "
                "and each episode); it cannot act on observations alone."
            )
        return self.fork_values(len(observations)).argmax(axis=1).astype(np.int64)  # ties: lower

    def fork_values(self, lanes: int) -> np.ndarray:
        """``(lanes, n_codes)``: each lane's value after each code, tried in forks."""
        trials = [(lane, code) for lane in range(lanes) for code in range(self.n_codes)]
        values = np.zeros((lanes, self.n_codes))
        for first in range(0, len(trials), self.batch_size):
            chunk = trials[first : first + self.batch_size]
            forks = [self.env.fork(self._episodes[lane]) for lane, _ in chunk]
            self.env.step_episodes(forks, [code for _, code in chunk])
            for (lane, code), fork in zip(chunk, forks, strict=True):
                values[lane, code] = self.env.task.value(fork)
        return values
