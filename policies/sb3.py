"""Act with a trained Stable-Baselines3 model, loaded without running its pickles.

An SB3 ``.zip`` holds the policy weights (``policy.pth``, read with
``torch.load(weights_only=True)`` through SB3's ``load_from_zip_file(load_data=False)``)
and a JSON ``data`` file whose non-JSON entries are cloudpickles. Only the JSON is
read here: the policy's kind (actor-critic for PPO/A2C, a Q-network for DQN), its
``net_arch`` and activation (from their readable form) and the spaces, so a crafted
zip cannot run code. The algorithm comes from ``ALGO:`` in front of the path, the
``settings.json`` that ``convenv train`` writes beside its models, or the zip itself.

A ``vecnormalize.pkl`` saved by SB3's ``VecNormalize.save()`` beside the model (as the
RL Zoo keeps it) is read by an unpickler that builds nothing but plain records and
numpy arrays, and its observation statistics are applied before the policy acts.
"""

from __future__ import annotations

import ast
import io
import json
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from convenv.errors import DataFileError, InvalidArgumentError, PickledWeightsError
from convenv.policies.base import ActionPolicy

ALGORITHMS = ("ppo", "dqn", "a2c")
VECNORMALIZE_FILE = "vecnormalize.pkl"
# Activations SB3 users pass in policy_kwargs, by the name their readable form gives.
ACTIVATIONS = ("ReLU", "Tanh", "ELU", "LeakyReLU", "GELU", "SiLU", "Sigmoid")
# Policy kwargs that shape only training (A2C keeps its RMSprop here).
OPTIMIZER_KEYS = ("optimizer_class", "optimizer_kwargs")


def algorithm_class(name: str):
    """The SB3 class for ``"ppo"``, ``"dqn"`` or ``"a2c"``."""
    from stable_baselines3 import A2C, DQN, PPO

    classes = {"ppo": PPO, "dqn": DQN, "a2c": A2C}
    if name.lower() not in classes:
        raise InvalidArgumentError(f"algorithm={name!r}; pass one of {ALGORITHMS}.")
    return classes[name.lower()]


def training_settings(path: Path) -> dict:
    """The ``settings.json`` of the ``convenv train`` run that saved ``path`` (beside it,
    or one folder up for ``best/best_model.zip``); ``{}`` for a plain SB3 zip."""
    for folder in (path.parent, path.parent.parent):
        settings = folder / "settings.json"
        if settings.exists():
            return json.loads(settings.read_text())
    return {}


@dataclass(frozen=True)
class SavedModel:
    """What the JSON part of an SB3 zip says about its policy."""

    algorithm: str
    policy_kwargs: dict
    observation_shape: tuple[int, ...] | None


def read_saved_model(path: Path) -> SavedModel:
    """The algorithm, policy settings and observation shape of an SB3 zip, from its
    JSON ``data`` alone (nothing is unpickled)."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as err:
        raise DataFileError(
            path, f"not a model saved by SB3 ({type(err).__name__}: {err})", "an SB3 .zip"
        ) from err
    module = str(data.get("policy_class", {}).get("__module__", ""))
    if module.startswith("stable_baselines3.dqn"):
        algorithm = "dqn"
    elif "clip_range" in data or "n_epochs" in data:
        algorithm = "ppo"
    elif module.startswith("stable_baselines3.common"):
        algorithm = "a2c"
    else:
        raise DataFileError(
            path,
            f"its policy class lives in {module or 'an unknown module'}",
            f"a model of one of {ALGORITHMS} with SB3's default policies",
        )
    shape = data.get("observation_space", {}).get("_shape")
    return SavedModel(algorithm, _policy_kwargs(data.get("policy_kwargs"), path), _shape(shape))


def _shape(shape) -> tuple[int, ...] | None:
    return tuple(int(s) for s in shape) if isinstance(shape, list) else None


def _policy_kwargs(saved, path: Path) -> dict:
    """``net_arch`` and ``activation_fn`` of saved policy kwargs (plain JSON, or SB3's
    readable form of a dict that held a class)."""
    if not saved:
        return {}
    if ":serialized:" not in saved:
        return dict(saved)
    kwargs: dict = {}
    for key, text in saved.items():
        if key in (":type:", ":serialized:", *OPTIMIZER_KEYS):
            continue  # acting needs no optimizer
        if key == "net_arch":
            # A list where JSON could hold it, else its repr: a literal (data, no code).
            kwargs["net_arch"] = text if isinstance(text, (list, dict)) else ast.literal_eval(text)
        elif key == "activation_fn":
            name = next((a for a in ACTIVATIONS if f".{a}'" in str(text)), None)
            if name is None:
                raise DataFileError(path, f"activation_fn is {text}", f"one of {ACTIVATIONS}")
            import torch

            kwargs["activation_fn"] = getattr(torch.nn, name)
        else:
            raise DataFileError(
                path,
                f"policy_kwargs holds {key!r}, which is read only by unpickling",
                "a model whose policy_kwargs are net_arch and activation_fn",
            )
    return kwargs


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
    saved = read_saved_model(path)
    algorithm = (algorithm or training_settings(path).get("algorithm") or saved.algorithm).lower()
    if algorithm not in ALGORITHMS:
        raise InvalidArgumentError(f"algorithm={algorithm!r}; pass one of {ALGORITHMS}.")
    shape = tuple(observation_space.shape)
    if saved.observation_shape is not None and saved.observation_shape != shape:
        raise InvalidArgumentError(
            f"model={str(path)!r} reads observations of shape {saved.observation_shape}; "
            f"this env gives {shape}: pass a model trained on the same task and codes."
        )
    try:
        _, params, _ = load_from_zip_file(path, load_data=False, device="cpu")
    except pickle.UnpicklingError as err:  # torch.load(weights_only=True) refused it
        raise PickledWeightsError(path, "its policy.pth") from err
    kind = DQNPolicy if algorithm == "dqn" else ActorCriticPolicy
    policy = kind(observation_space, action_space, lr_schedule=lambda _: 0.0, **saved.policy_kwargs)
    try:
        policy.load_state_dict(params["policy"])
    except (KeyError, RuntimeError) as err:
        raise InvalidArgumentError(
            f"model={str(path)!r} does not fit this env ({str(err).splitlines()[0][:160]}); "
            "pass a model trained on the same task, action codes and observation."
        ) from err
    policy.set_training_mode(False)
    policy.convenv_algorithm = algorithm
    return policy


@dataclass(frozen=True)
class ObservationNormalizer:
    """The observation part of a saved ``VecNormalize``: ``(obs − mean) / √(var + ε)``,
    clipped to ``±clip``."""

    mean: np.ndarray
    var: np.ndarray
    epsilon: float
    clip: float

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        scaled = (observations - self.mean) / np.sqrt(self.var + self.epsilon)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)


class _Record:
    """What every allowed class unpickles into: an object holding its pickled state."""

    def __setstate__(self, state) -> None:
        self.__dict__.update(state if isinstance(state, dict) else {"state": state})


def _record_of(*args, **kwargs) -> _Record:
    return _Record()


class _StatisticsUnpickler(pickle.Unpickler):
    """Builds numpy arrays and plain records only: SB3's VecNormalize, its running
    statistics and the spaces it keeps become :class:`_Record` objects, never themselves."""

    RECORDS: ClassVar[set[tuple[str, str]]] = {
        ("stable_baselines3.common.vec_env.vec_normalize", "VecNormalize"),
        ("stable_baselines3.common.running_mean_std", "RunningMeanStd"),
        ("gymnasium.spaces.box", "Box"),
        ("gymnasium.spaces.discrete", "Discrete"),
        ("gymnasium.spaces.dict", "Dict"),
    }
    # What numpy arrays and dicts are rebuilt from (the calls torch's weights_only allows).
    ALLOWED: ClassVar[set[tuple[str, str]]] = {
        (module, name)
        for module in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name in ("_reconstruct", "scalar")
    } | {("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict")}

    def find_class(self, module: str, name: str):
        if (module, name) in self.RECORDS:
            return _Record
        if module == "numpy.random" or module.startswith("numpy.random."):
            # A seeded space keeps a random generator: a record stands in for each of
            # its parts, and nothing of numpy.random is called.
            return _record_of
        if (module, name) in self.ALLOWED or (module == "numpy.dtypes" and name.endswith("DType")):
            import importlib

            return getattr(importlib.import_module(module), name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a VecNormalize file")


def read_vecnormalize(path: Path | str) -> ObservationNormalizer | None:
    """The observation statistics of a file saved by ``VecNormalize.save()``, or None if
    it does not normalize observations."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            saved = _StatisticsUnpickler(io.BytesIO(handle.read())).load()
        if not getattr(saved, "norm_obs", True):
            return None
        stats = saved.obs_rms
        return ObservationNormalizer(
            np.asarray(stats.mean, np.float64),
            np.asarray(stats.var, np.float64),
            float(saved.epsilon),
            float(saved.clip_obs),
        )
    except (pickle.UnpicklingError, AttributeError, EOFError, ValueError, TypeError) as err:
        raise DataFileError(
            path, f"not readable as VecNormalize statistics ({err})", "a VecNormalize.save() file"
        ) from err


class SB3Policy(ActionPolicy):
    """Wraps a trained SB3 model or policy (or the path of a saved ``.zip``, with the
    env's spaces to rebuild its policy network).

    Args:
        model: An SB3 ``BaseAlgorithm``/``BasePolicy`` or a path to a saved model.
        algorithm: For a path: overrides the algorithm recorded in settings.json or the zip.
        deterministic: Take the most likely action instead of sampling.
        observation_space, action_space: For a path: the env's spaces.
        normalizer: Observation statistics to apply first (default for a path: those of
            a ``vecnormalize.pkl`` beside it, if there is one).
    """

    def __init__(
        self,
        model,
        algorithm: str | None = None,
        deterministic: bool = True,
        observation_space=None,
        action_space=None,
        normalizer: ObservationNormalizer | None = None,
    ) -> None:
        self.algorithm = algorithm or "sb3"
        if isinstance(model, (str, Path)):
            if observation_space is None or action_space is None:
                raise InvalidArgumentError(
                    "loading a saved model needs observation_space and action_space "
                    "(the env's) to rebuild its policy network."
                )
            saved = Path(model)
            if normalizer is None and (saved.parent / VECNORMALIZE_FILE).is_file():
                normalizer = read_vecnormalize(saved.parent / VECNORMALIZE_FILE)
            model = load_policy(model, observation_space, action_space, algorithm)
            self.algorithm = model.convenv_algorithm
        if not callable(getattr(model, "predict", None)):
            raise InvalidArgumentError(f"model={model!r} has no predict(); pass an SB3 model.")
        self.model = model
        self.deterministic = deterministic
        self.normalizer = normalizer
        self.name = f"sb3:{type(model).__name__.lower()}"

    def act(self, observations: np.ndarray) -> np.ndarray:
        if self.normalizer is not None:
            observations = self.normalizer(observations)
        actions, _ = self.model.predict(observations, deterministic=self.deterministic)
        return np.asarray(actions, dtype=np.int64).reshape(len(observations))
