"""The one place convenv imports Ray (the optional extra ``[ray]``).

Every Ray feature (``convenv train --backend rllib``, ``bench --ray``, ``selfplay
--ray``, ``convenv tune``) goes through :func:`require_ray` and :func:`start_ray`, so
a missing extra gives one clear error and every worker starts with the same
environment variables.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from convenv.errors import MissingDependencyError

RAY_EXTRA = "pip install 'convenv[ray]'"
# Ray workers do not import convenv before RLlib makes the env: the "module:" prefix
# tells Gymnasium to import it first (a bare id fails with NamespaceNotFound there).
GYM_MODULE_PREFIX = "convenv:"
# Torch's default threads fight over the cores Ray already splits between workers:
# measured 4-12x slower iterations without this in the driver.
WORKER_ENV = {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def require_ray(module: str = "ray", feature: str = "this feature") -> ModuleType:
    """Import ``module`` (``ray``, ``ray.rllib``, ``ray.tune``...) or say how to get it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependencyError(
            f"{feature} needs Ray ({module} could not be imported: {err}); {RAY_EXTRA}."
        ) from err


def worker_env_vars() -> dict[str, str]:
    """Variables every Ray worker gets: one torch thread, and ``CONVENV_CACHE`` as the
    driver sees it (point it at shared storage on a multi-node cluster)."""
    from convenv.cache import default_cache_dir

    return {**WORKER_ENV, "CONVENV_CACHE": str(default_cache_dir())}


def start_ray(address: str | None = None, num_cpus: int | None = None) -> ModuleType:
    """Join the cluster at ``address`` (None: start a local one) unless Ray is already
    running in this process; returns the ``ray`` module."""
    ray = require_ray("ray", "Running on Ray")
    for name, value in WORKER_ENV.items():
        os.environ.setdefault(name, value)
    if not ray.is_initialized():
        ray.init(
            address=address,
            num_cpus=None if address else num_cpus,
            include_dashboard=False,
            log_to_driver=True,
            runtime_env={"env_vars": worker_env_vars()},
        )
    return ray


def gym_env_id(env_id: str) -> str:
    """``env_id`` as Ray workers must name it (``convenv:`` in front, once)."""
    return env_id if env_id.startswith(GYM_MODULE_PREFIX) else GYM_MODULE_PREFIX + env_id
