"""Tasks as objects, and the one place they are registered.

A new task is one module (a :class:`~convenv.tasks.base.Task` subclass) plus one
:func:`register_task` line; the envs, vector envs and every job then run it::

    register_task(MyTask, train_id="convenv/MyTask-v0", eval_id="convenv/MyTaskEval-v0")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gymnasium.envs.registration import register, registry

from convenv.errors import InvalidArgumentError
from convenv.tasks.authentication import AuthenticationTask
from convenv.tasks.base import (
    EpisodeStart,
    MainJobPlan,
    ObservationBatch,
    Statistic,
    Task,
    TaskSetting,
)
from convenv.tasks.identification import IdentificationTask

ENTRY_POINT = "convenv.env:PersonaInterviewEnv"
# gym.make_vec(id, num_envs) steps every env in one batched engine call.
VECTOR_ENTRY_POINT = "convenv.vector:BatchedInterviewVectorEnv"

TASKS: dict[str, type[Task]] = {}
# Env id -> the kwargs it stands for (split and task).
ENV_IDS: dict[str, dict[str, str]] = {}


def register_task(task: type[Task], train_id: str | None = None, eval_id: str | None = None):
    """Register ``task`` under ``task.name``, and Gymnasium ids for it on train personas
    (``train_id``, the env policies learn on) and held-out test personas (``eval_id``,
    evaluation only). Registering the same class again is a no-op; returns ``task``."""
    if not (isinstance(task, type) and issubclass(task, Task)) or not task.name:
        raise InvalidArgumentError(
            f"task={task!r}; pass a subclass of convenv.tasks.Task with a name."
        )
    known = TASKS.get(task.name)
    if known is not None and known is not task:
        raise InvalidArgumentError(
            f"a task named {task.name!r} is registered already ({known.__qualname__}); "
            "give the new one another name."
        )
    TASKS[task.name] = task
    for env_id, split in ((train_id, "train"), (eval_id, "test")):
        if env_id is None:
            continue
        kwargs = {"split": split, "task": task.name}
        ENV_IDS[env_id] = kwargs
        if env_id not in registry:
            register(
                id=env_id,
                entry_point=ENTRY_POINT,
                vector_entry_point=VECTOR_ENTRY_POINT,
                kwargs=kwargs,
            )
    return task


def task_names() -> tuple[str, ...]:
    return tuple(TASKS)


def task_class(name: str) -> type[Task]:
    if name not in TASKS:
        raise InvalidArgumentError(
            f"task={name!r}; pass one of {task_names()} (or register yours with "
            "convenv.tasks.register_task)."
        )
    return TASKS[name]


def make_task(task: str | Task, options: Mapping[str, Any] | None = None) -> Task:
    """A task from its name and options, or a Task object as it is (no options then)."""
    options = dict(options or {})
    if isinstance(task, Task):
        if options:
            raise InvalidArgumentError(
                f"task options {sorted(options)} beside a Task object; set them on the object."
            )
        return task
    cls = task_class(task)
    known = {f.name for f in cls.option_fields()}
    unknown = sorted(set(options) - known)
    if unknown:
        owners = {
            name: other
            for name in unknown
            for other, c in TASKS.items()
            if name in {f.name for f in c.option_fields()}
        }
        hint = "; ".join(f"{n} is an option of task {owners[n]!r}" for n in unknown if n in owners)
        raise InvalidArgumentError(
            f"task {task!r} takes no option {unknown} (its options: {sorted(known) or 'none'})"
            + (f"; {hint}" if hint else "")
            + "."
        )
    return cls(**options)


def train_env_id(task: str) -> str:
    """The id of ``task`` on train personas."""
    for env_id, kwargs in ENV_IDS.items():
        if kwargs["task"] == task and kwargs["split"] == "train":
            return env_id
    raise InvalidArgumentError(f"task={task!r} has no registered env id on train personas.")


register_task(
    IdentificationTask,
    train_id="convenv/PersonaInterview-v1",
    eval_id="convenv/PersonaInterviewEval-v1",
)
register_task(
    AuthenticationTask,
    train_id="convenv/PersonaAuthentication-v1",
    eval_id="convenv/PersonaAuthenticationEval-v1",
)

__all__ = [
    "ENV_IDS",
    "TASKS",
    "AuthenticationTask",
    "EpisodeStart",
    "IdentificationTask",
    "MainJobPlan",
    "ObservationBatch",
    "Statistic",
    "Task",
    "TaskSetting",
    "make_task",
    "register_task",
    "task_class",
    "task_names",
    "train_env_id",
]
