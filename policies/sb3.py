"""Act with a trained Stable-Baselines3 model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from convenv.errors import InvalidArgumentError
from convenv.policies.base import ActionPolicy

ALGORITHMS = ("ppo", "dqn", "a2c")


def algorithm_class(name: str):
    """The SB3 class for ``"ppo"``, ``"dqn"`` or ``"a2c"``."""
    from stable_baselines3 import A2C, DQN, PPO

    classes = {"ppo": PPO, "dqn": DQN, "a2c": A2C}
    if name.lower() not in classes:
        raise InvalidArgumentError(f"algorithm={name!r}; pass one of {ALGORITHMS}.")
    return classes[name.lower()]


class SB3Policy(ActionPolicy):
    """Wraps a trained SB3 model (or the path of its ``.zip``).

    Args:
        model: An SB3 ``BaseAlgorithm`` or a path to a saved model.
        algorithm: Needed only to load a path: ``ppo``, ``dqn`` or ``a2c``.
        deterministic: Take the most likely action instead of sampling.
    """

    def __init__(self, model, algorithm: str = "ppo", deterministic: bool = True) -> None:
        if isinstance(model, (str, Path)):
            path = Path(model)
            if not path.exists() and not path.with_suffix(".zip").exists():
                raise InvalidArgumentError(
                    f"model={str(model)!r} does not exist; pass a saved .zip."
                )
            model = algorithm_class(algorithm).load(str(path), device="cpu")
        if not callable(getattr(model, "predict", None)):
            raise InvalidArgumentError(f"model={model!r} has no predict(); pass an SB3 model.")
        self.model = model
        self.deterministic = deterministic
        self.name = f"sb3:{type(model).__name__.lower()}"

    def act(self, observations: np.ndarray) -> np.ndarray:
        actions, _ = self.model.predict(observations, deterministic=self.deterministic)
        return np.asarray(actions, dtype=np.int64).reshape(len(observations))
