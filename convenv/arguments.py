"""Command lines generated from config dataclasses: one ``--flag`` per field.

Each field's metadata gives its help (a string or a function that makes one),
``choices`` (a tuple or a function) and whether the command line offers it (``cli``).
Options of the tasks (``--impostor``, ``--threshold`` ...) come from the registered
tasks' own fields. Every option has help, and argparse prints its default once.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from convenv.config import EnvConfig
from convenv.errors import InvalidArgumentError

Arguments = argparse.Namespace


def _resolve(value: Any) -> Any:
    return value() if callable(value) else value


def _kind(annotation: Any) -> Callable[[str], Any] | None:
    """The converter of a field's type: int, float, str; None for a flag (bool)."""
    if isinstance(annotation, str):
        text = annotation.replace(" ", "")
        parts = set(text.split("|")) - {"None"}
    else:
        args = typing.get_args(annotation)
        is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
        parts = {getattr(a, "__name__", str(a)) for a in (args if is_union else (annotation,))}
        parts -= {"NoneType"}
    if parts == {"bool"}:
        return None
    if parts == {"int"}:
        return int
    if parts == {"float"}:
        return float
    return str


def add_dataclass_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    only: Iterable[str] | None = None,
    skip: Iterable[str] = (),
    defaults: dict[str, Any] | None = None,
) -> None:
    """One ``--flag`` per field of ``cls`` that the command line offers."""
    only = None if only is None else set(only)
    skip, defaults = set(skip), defaults or {}
    for spec in dataclasses.fields(cls):
        if not spec.metadata.get("cli", True) or spec.name in skip:
            continue
        if only is not None and spec.name not in only:
            continue
        default = defaults.get(spec.name, _default(spec))
        _add(parser, spec, default, many=False)


def _add(parser, spec: dataclasses.Field, default: Any, many: bool, help_prefix: str = "") -> None:
    flag = "--" + spec.name.replace("_", "-")
    help_text = help_prefix + str(_resolve(spec.metadata.get("help", "")))
    kind = _kind(spec.type)
    if kind is None and not many:
        parser.add_argument(
            flag, action=argparse.BooleanOptionalAction, default=default, help=help_text
        )
        return
    parser.add_argument(
        flag,
        type=kind or _boolean,
        default=default,
        help=help_text,
        choices=_resolve(spec.metadata.get("choices")),
        nargs="+" if many else None,
        metavar=None if spec.metadata.get("choices") else spec.name.upper(),
    )


def _boolean(text: str) -> bool:
    if text.lower() in ("true", "yes", "1"):
        return True
    if text.lower() in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not true or false")


def _default(spec: dataclasses.Field) -> Any:
    if spec.default is not dataclasses.MISSING:
        return spec.default
    if spec.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return spec.default_factory()  # type: ignore[misc]
    return None


def dataclass_values(cls: type, args: Arguments, skip: Iterable[str] = ()) -> dict[str, Any]:
    """The fields of ``cls`` found in ``args``, by name."""
    skip = set(skip)
    return {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(cls)
        if f.name not in skip and hasattr(args, f.name)
    }


# --- the env's options ------------------------------------------------------------


def task_option_fields() -> dict[str, tuple[dataclasses.Field, list[str]]]:
    """Every registered task's options: name -> (field, the tasks that take it)."""
    from convenv.tasks import TASKS

    found: dict[str, tuple[dataclasses.Field, list[str]]] = {}
    for name, cls in TASKS.items():
        for spec in cls.option_fields():
            if spec.name in found:
                found[spec.name][1].append(name)
            else:
                found[spec.name] = (spec, [name])
    return found


def add_env_arguments(
    parser: argparse.ArgumentParser,
    only: Iterable[str] | None = None,
    skip: Iterable[str] = (),
    defaults: dict[str, Any] | None = None,
    sweep: bool = False,
    task_options: bool = True,
) -> None:
    """The env's options (:class:`~convenv.config.EnvConfig`) and the tasks' options as
    flags; with ``sweep`` the task options take several values (one benchmark each)."""
    group = parser.add_argument_group("environment")
    add_dataclass_arguments(group, EnvConfig, only, skip, defaults)
    if not task_options:
        return
    for spec, tasks in task_option_fields().values():
        owners = ", ".join(tasks)
        prefix = f"{owners}: " + ("one benchmark per value; " if sweep else "")
        # None: the task's own default (the command line cannot know which task is meant).
        _add(group, spec, None, many=sweep, help_prefix=prefix)


def env_config_from_arguments(
    args: Arguments,
    overrides: dict[str, Any] | None = None,
    task_options: dict[str, Any] | None = None,
) -> EnvConfig:
    """The :class:`EnvConfig` the flags describe; task options given for another task
    than the chosen one are refused by name. ``task_options`` replaces the task options
    of the command line (a benchmark passes one combination of its swept values)."""
    values = dataclass_values(EnvConfig, args)
    values.update(overrides or {})
    task = values.get("task", "identification")
    if task_options is None:
        task_options = task_options_from_arguments(args, task)
    values["task_options"] = {**values.get("task_options", {}), **task_options}
    return EnvConfig(**{k: v for k, v in values.items() if v is not None or k in _NULLABLE})


_NULLABLE = {"negatives", "identifier", "model", "pool_dialogs", "personas", "actions"}


def task_options_from_arguments(args: Arguments, task: str) -> dict[str, Any]:
    """The task options given on the command line (a flag left unset is not given)."""
    given = {
        name: getattr(args, name)
        for name in task_option_fields()
        if getattr(args, name, None) is not None
    }
    owners = task_option_fields()
    stray = sorted(n for n in given if task not in owners[n][1])
    if stray:
        flags = ", ".join("--" + n.replace("_", "-") for n in stray)
        raise InvalidArgumentError(
            f"{flags} {'is an option' if len(stray) == 1 else 'are options'} of task "
            f"{owners[stray[0]][1][0]!r}, not of {task!r}; drop it or pass --task "
            f"{owners[stray[0]][1][0]}."
        )
    return given


def positive(name: str) -> Callable[[str], int]:
    """An argparse type: a positive integer, named in its error."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(
                f"{name} takes a positive integer, not {text!r}"
            ) from err
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name} takes a positive integer, not {value}")
        return value

    return convert


def non_negative(name: str) -> Callable[[str], int]:
    """An argparse type: 0 or more."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"{name} takes 0 or more, not {text!r}") from err
        if value < 0:
            raise argparse.ArgumentTypeError(f"{name} takes 0 or more, not {value}")
        return value

    return convert


def sweep_values(args: Arguments, task: str) -> list[dict[str, Any]]:
    """For a benchmark: one dict of task options per combination of the swept values
    (the task's ``bench_sweep`` values where a swept option was not given)."""
    from itertools import product

    from convenv.tasks import task_class

    cls = task_class(task)
    given = task_options_from_arguments(args, task)
    lists: dict[str, Sequence[Any]] = {}
    for name, values in cls.bench_sweep.items():
        lists[name] = list(given.pop(name, None) or values)
    for name, values in list(given.items()):
        lists[name] = list(values)
    if not lists:
        return [{}]
    names = list(lists)
    return [dict(zip(names, combo, strict=True)) for combo in product(*(lists[n] for n in names))]


# The env's options that say who speaks (what chat, fidelity and labelling take).
SPEAKER_FIELDS = (
    "partner",
    "interviewer",
    "identifier",
    "model",
    "base_url",
    "api_key_env",
    "device",
    "precision",
)


def add_speaker_arguments(
    parser: argparse.ArgumentParser,
    only: Iterable[str] = SPEAKER_FIELDS,
    defaults: dict[str, Any] | None = None,
) -> None:
    """The env's options that say who speaks, as flags."""
    add_env_arguments(parser, only=only, defaults=defaults, task_options=False)


def speakers_from_arguments(args: Arguments, actions=None) -> tuple[Any, Any, Any]:
    """``(partner, interviewer, identifier)`` the speaker flags name, checked first
    (an unknown name or a missing model is refused before anything loads)."""
    from convenv.actions import ActionSet
    from convenv.speakers import resolve_speakers

    values = {f: getattr(args, f) for f in SPEAKER_FIELDS if hasattr(args, f)}
    config = EnvConfig(**values)
    return resolve_speakers(
        config.partner, config.interviewer, config.identifier, actions or ActionSet(),
        config.model, config.device, config.pool_dialogs, config.base_url, config.api_key_env,
        config.precision,
    )  # fmt: skip
