"""Act with a trained Stable-Baselines3 model.

A saved model is loaded *without unpickling*: only the policy weights are read from
the ``.zip`` (``torch.load(weights_only=True)`` through SB3's ``load_from_zip_file``
with ``load_data=False``), and the algorithm comes from the ``settings.json`` that
``convenv train`` writes beside it. A crafted ``model.zip`` therefore cannot run
code; a zip without those settings is refused.
"""

from __future__ import annotations

import json
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


def training_settings(path: Path) -> dict:
    """The ``settings.json`` of the run that saved ``path`` (beside it, or one folder up
    for ``best/best_model.zip``)."""
    for folder in (path.parent, path.parent.parent):
        settings = folder / "settings.json"
        if settings.exists():
            return json.loads(settings.read_text())
    raise InvalidArgumentError(
        f"model={str(path)!r} has no settings.json beside it: convenv loads SB3 models "
        "without unpickling them, so it reads only models saved by `convenv train` "
        "(which writes settings.json). Retrain with convenv train, or load the model "
        "yourself with SB3 if you trust the file, and pass the object."
    )


def load_policy(path: Path | str, observation_space, action_space, algorithm: str | None = None):
    """The policy network of a saved model, its weights read without unpickling."""
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.common.save_util import load_from_zip_file
    from stable_baselines3.dqn.policies import DQNPolicy

    path = Path(path)
    if not path.exists() and path.with_suffix(".zip").exists():
        path = path.with_suffix(".zip")
    if not path.is_file():
        raise InvalidArgumentError(f"model={str(path)!r} does not exist; pass a saved .zip.")
    algorithm = (algorithm or training_settings(path).get("algorithm", "ppo")).lower()
    if algorithm not in ALGORITHMS:
        raise InvalidArgumentError(f"algorithm={algorithm!r}; pass one of {ALGORITHMS}.")
    _, params, _ = load_from_zip_file(path, load_data=False, device="cpu")
    kind = DQNPolicy if algorithm == "dqn" else ActorCriticPolicy
    policy = kind(observation_space, action_space, lr_schedule=lambda _: 0.0)
    try:
        policy.load_state_dict(params["policy"])
    except (KeyError, RuntimeError) as err:
        raise InvalidArgumentError(
            f"model={str(path)!r} does not fit this env ({str(err).splitlines()[0][:160]}); "
            "pass a model trained on the same task, action codes and observation."
        ) from err
    policy.set_training_mode(False)
    return policy


class SB3Policy(ActionPolicy):
    """Wraps a trained SB3 model or policy (or the path of a ``.zip`` saved by
    ``convenv train``, with the env's spaces to rebuild its policy network).

    Args:
        model: An SB3 ``BaseAlgorithm``/``BasePolicy`` or a path to a saved model.
        algorithm: For a path: overrides the algorithm recorded in settings.json.
        deterministic: Take the most likely action instead of sampling.
        observation_space, action_space: For a path: the env's spaces.
    """

    def __init__(
        self,
        model,
        algorithm: str | None = None,
        deterministic: bool = True,
        observation_space=None,
        action_space=None,
    ) -> None:
        if isinstance(model, (str, Path)):
            if observation_space is None or action_space is None:
                raise InvalidArgumentError(
                    "loading a saved model needs observation_space and action_space "
                    "(the env's) to rebuild its policy network."
                )
            model = load_policy(model, observation_space, action_space, algorithm)
        if not callable(getattr(model, "predict", None)):
            raise InvalidArgumentError(f"model={model!r} has no predict(); pass an SB3 model.")
        self.model = model
        self.deterministic = deterministic
        self.name = f"sb3:{type(model).__name__.lower()}"

    def act(self, observations: np.ndarray) -> np.ndarray:
        actions, _ = self.model.predict(observations, deterministic=self.deterministic)
        return np.asarray(actions, dtype=np.int64).reshape(len(observations))
