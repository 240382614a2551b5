"""convenv: a Gymnasium environment for training persona-interviewing dialog agents."""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from convenv.actions import DEFAULT_ACTIONS, ActionCode, ActionSet
from convenv.errors import ConvenvError, DataFileError, InvalidArgumentError, ModelUnavailableError
from convenv.lazy import lazy_attributes
from convenv.metrics import METRIC_NAMES, ranking_metrics

__version__ = "0.1.0"

ENV_IDS = {
    # Train personas: the env policies learn on.
    "convenv/PersonaInterview-v0": {"split": "train"},
    # Held-out test personas: evaluation only, never training.
    "convenv/PersonaInterviewEval-v0": {"split": "test"},
    # Is the partner who it claims to be? Train and held-out test personas.
    "convenv/PersonaAuthentication-v0": {"split": "train", "task": "authentication"},
    "convenv/PersonaAuthenticationEval-v0": {"split": "test", "task": "authentication"},
}

for _env_id, _kwargs in ENV_IDS.items():
    if _env_id not in registry:
        register(
            id=_env_id,
            entry_point="convenv.env:PersonaInterviewEnv",
            # gym.make_vec(id, num_envs) steps every env in one batched engine call.
            vector_entry_point="convenv.vector:BatchedInterviewVectorEnv",
            kwargs=_kwargs,
        )


# The envs pull in torch-backed agents only when asked for.
__getattr__ = lazy_attributes(
    __name__,
    {
        "PersonaInterviewEnv": "convenv.env",
        "BatchedDialogVecEnv": "convenv.vec_env",
        "BatchedInterviewVectorEnv": "convenv.vector",
    },
)


__all__ = [
    "DEFAULT_ACTIONS",
    "ENV_IDS",
    "METRIC_NAMES",
    "ActionCode",
    "ActionSet",
    "BatchedDialogVecEnv",
    "BatchedInterviewVectorEnv",
    "ConvenvError",
    "DataFileError",
    "InvalidArgumentError",
    "ModelUnavailableError",
    "PersonaInterviewEnv",
    "ranking_metrics",
]
