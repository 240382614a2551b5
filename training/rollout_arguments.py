"""Command-line options of the jobs that play episodes (bench, selfplay, report).

The env's options come from :class:`~convenv.config.EnvConfig` (see
:mod:`convenv.arguments`); this adds how the episodes are played.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from convenv.arguments import add_env_arguments, env_config_from_arguments, positive
from convenv.config import EnvConfig
from convenv.env import PersonaInterviewEnv


def add_rollout_arguments(
    parser: argparse.ArgumentParser, sweep: bool = False, env_skip: Sequence[str] = ()
) -> None:
    """The env's options, then seed, batch size, threads, progress and Ray."""
    add_env_arguments(parser, skip=("split", *env_skip), sweep=sweep)
    group = parser.add_argument_group("playing")
    group.add_argument("--seed", type=int, default=0, help="seeds the episodes and the policies")
    group.add_argument(
        "--n-envs", type=positive("--n-envs"), default=16, help="episodes played at once"
    )
    group.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (0: the cores not busy with other work); 1 is fastest for "
        "stepping envs",
    )
    group.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="show progress bars",
    )
    group.add_argument(
        "--ray", action="store_true", help="shard episodes over Ray workers (convenv[ray])"
    )
    group.add_argument(
        "--ray-workers", type=positive("--ray-workers"), default=2, help="--ray: workers"
    )
    group.add_argument(
        "--address", default=None, help="--ray: the cluster to join (unset: start a local one)"
    )


def rollout_config(
    args: argparse.Namespace,
    split: str,
    personas: Sequence[Sequence[str]] | None = None,
    task_options: dict[str, Any] | None = None,
) -> EnvConfig:
    """The env config those options describe, on ``split`` (and ``personas``);
    ``task_options`` replaces the task options of the command line."""
    return env_config_from_arguments(args, {"split": split, "personas": personas}, task_options)


def env_from_config(config: EnvConfig, threads: int = 1) -> PersonaInterviewEnv:
    """The env of ``config``, torch's thread count set before its models load."""
    from convenv.devices import set_torch_threads

    set_torch_threads(threads)
    return PersonaInterviewEnv(config)


def ray_runner(args: argparse.Namespace, config: EnvConfig):
    """A :class:`~convenv.training.ray_rollout.RayEpisodeRunner` whose workers each build
    the env of ``config``, or None without ``--ray``."""
    if not getattr(args, "ray", False):
        return None
    from functools import partial

    from convenv.training.ray_rollout import RayEpisodeRunner

    return RayEpisodeRunner(
        partial(env_from_config, config, args.threads), args.ray_workers, args.address
    )
