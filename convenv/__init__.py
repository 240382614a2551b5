"""convenv: a Gymnasium environment for training persona-interviewing dialog agents."""

from __future__ import annotations

from convenv.actions import DEFAULT_ACTIONS, ActionCode, ActionSet
from convenv.config import EnvConfig
from convenv.errors import ConvenvError, DataFileError, InvalidArgumentError, ModelUnavailableError
from convenv.lazy import lazy_attributes
from convenv.metrics import METRIC_NAMES, ranking_metrics

# Importing the tasks registers them and their env ids with Gymnasium.
from convenv.tasks import ENV_IDS, TASKS, Task, register_task

__version__ = "0.2.0"

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
    "TASKS",
    "ActionCode",
    "ActionSet",
    "BatchedDialogVecEnv",
    "BatchedInterviewVectorEnv",
    "ConvenvError",
    "DataFileError",
    "EnvConfig",
    "InvalidArgumentError",
    "ModelUnavailableError",
    "PersonaInterviewEnv",
    "Task",
    "ranking_metrics",
    "register_task",
]
