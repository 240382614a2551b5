"""``convenv train --backend rllib``: PPO from Ray RLlib on the batched vector env.

RLlib's env runners build :class:`~convenv.vector.BatchedInterviewVectorEnv` through
the env id's ``vector_entry_point`` (one engine call steps all envs of a runner), on
train personas minus the validation slice, as the SB3 trainer does. It reuses the SB3
trainer's settings and tuned PPO defaults, logs the identification metrics of finished
episodes, checkpoints to ``--out`` and exports the policy network as safetensors, which
:class:`~convenv.policies.rllib.RLlibPolicy` reads back for ``bench``, ``selfplay``
and ``chat`` without unpickling anything.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from convenv.errors import InvalidArgumentError
from convenv.metrics import METRIC_NAMES
from convenv.policies.rllib import POLICY_SPEC, POLICY_WEIGHTS
from convenv.ray_support import gym_env_id, require_ray, start_ray

CHECKPOINT_DIR = "checkpoint"
# SB3 keyword → RLlib PPO training() keyword, for the tuned defaults both share.
_PPO_KEYWORDS = {
    "learning_rate": "lr",
    "batch_size": "minibatch_size",
    "n_epochs": "num_epochs",
    "gae_lambda": "lambda_",
    "ent_coef": "entropy_coeff",
    "gamma": "gamma",
}


def env_id(task: str) -> str:
    from convenv.tasks import train_env_id

    return gym_env_id(train_env_id(task))


def env_config(config, personas) -> dict[str, Any]:
    """What every env runner passes to the vector entry point (plain data only: the
    env's options by name, the task's options among them)."""
    env = config.env
    skip = ("task_options", "personas", "actions", "render_mode", "split")
    kwargs = {k: v for k, v in env.to_dict().items() if k not in skip and v is not None}
    for name in ("partner", "interviewer", "identifier"):
        if name in kwargs and not isinstance(getattr(env, name), str):
            raise InvalidArgumentError(
                f"{name}={getattr(env, name)!r} is an object; RLlib's env runners build the "
                "env in other processes from names: pass a registered name."
            )
    return {**kwargs, **env.task_options, "personas": [list(p) for p in personas]}


def identification_callback():
    """An RLlib callback class that logs the env's metrics of each finished episode."""
    callbacks = require_ray("ray.rllib.callbacks.callbacks", "convenv train --backend rllib")

    class EpisodeMetricsCallback(callbacks.RLlibCallback):
        def on_episode_end(self, *, episode, metrics_logger=None, **kwargs) -> None:
            info = episode.get_infos(-1) or {}
            for name, value in (info.get("metrics") or {}).items():
                if metrics_logger is not None and isinstance(value, (int, float)):
                    metrics_logger.log_value(("episode_metrics", name), float(value), reduce="mean")

    return EpisodeMetricsCallback


def ppo_config(config, train_personas, eval_personas):
    """The RLlib ``PPOConfig`` equivalent of a :class:`TrainConfig`."""
    from convenv.training.train_policy import algorithm_kwargs

    ppo = require_ray("ray.rllib.algorithms.ppo", "convenv train --backend rllib")
    kwargs = algorithm_kwargs(config)
    fragment = int(kwargs.pop("n_steps"))
    training = {_PPO_KEYWORDS[k]: v for k, v in kwargs.items() if k in _PPO_KEYWORDS}
    rllib = config.rllib
    runners = max(1, rllib.num_env_runners)
    batch = fragment * rllib.envs_per_runner * runners
    training["minibatch_size"] = min(int(training.get("minibatch_size", 64)), batch)
    iteration_steps = batch
    evaluation_interval = max(1, round(config.eval_every / iteration_steps))
    return (
        ppo.PPOConfig()
        .environment(env_id(config.env.task_name), env_config=env_config(config, train_personas))
        .env_runners(
            num_env_runners=rllib.num_env_runners,
            num_envs_per_env_runner=rllib.envs_per_runner,
            gym_env_vectorize_mode="vector_entry_point",
            rollout_fragment_length=fragment,
            num_gpus_per_env_runner=rllib.gpus_per_runner,
        )
        .training(train_batch_size_per_learner=batch, **training)
        .callbacks(identification_callback())
        .evaluation(
            evaluation_interval=evaluation_interval,
            evaluation_duration=config.eval_episodes,
            evaluation_duration_unit="episodes",
            evaluation_config={
                "env_config": env_config(config, eval_personas),
                "explore": False,
            },
        )
        .debugging(seed=config.seed)
    )


def _flat_metrics(result: dict) -> dict[str, float]:
    runners = result.get("env_runners", {})
    row = {
        "iteration": result.get("training_iteration"),
        "env_steps": runners.get("num_env_steps_sampled_lifetime"),
        "episode_return_mean": runners.get("episode_return_mean"),
    }
    for name, value in (runners.get("episode_metrics") or {}).items():
        row[f"identification/{name}" if name in METRIC_NAMES else name] = value
    evaluation = result.get("evaluation", {}).get("env_runners", {})
    if "episode_return_mean" in evaluation:
        row["validation_return"] = evaluation["episode_return_mean"]
    return {k: float(v) for k, v in row.items() if v is not None}


def export_policy(algorithm, directory: Path, observation_size: int, n_actions: int) -> None:
    """The policy network's weights as safetensors plus what rebuilds it."""
    from safetensors.torch import save_file

    module = algorithm.get_module()
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(directory / POLICY_WEIGHTS))
    spec = {
        "observation_size": observation_size,
        "n_actions": n_actions,
        "model_config": _plain(module.model_config),
        # The driver's copy may lack the value head (RLlib's inference-only module).
        "inference_only": not any(k.startswith("vf.") for k in state),
        "module_class": f"{type(module).__module__}.{type(module).__qualname__}",
    }
    (directory / POLICY_SPEC).write_text(json.dumps(spec, indent=2))


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return _plain(asdict(value))
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if isinstance(value, (int, float, str, bool, type(None))) else repr(value)


def train_rllib(config) -> Path:
    """Train with RLlib PPO until ``config.timesteps`` env steps; returns ``--out``."""
    from convenv.splits import training_personas, validation_personas
    from convenv.training.train_policy import fresh_run_directory

    if config.algorithm != "ppo":
        raise InvalidArgumentError(
            f"algorithm={config.algorithm!r} with backend='rllib'; the RLlib backend runs "
            "PPO only (use --backend sb3 for DQN and A2C)."
        )
    out = fresh_run_directory(config, (CHECKPOINT_DIR, "settings.json", POLICY_SPEC)).resolve()
    start_ray(config.rllib.address or None)
    started = time.time()
    algorithm = ppo_config(config, training_personas(), validation_personas()).build_algo()
    rows: list[dict[str, float]] = []
    bar = tqdm(total=config.timesteps, desc="rllib ppo", disable=not config.progress)
    try:
        steps = 0
        while steps < config.timesteps:
            row = _flat_metrics(algorithm.train())
            rows.append(row)
            bar.update(int(row.get("env_steps", steps)) - steps)
            steps = int(row.get("env_steps", steps))
            bar.set_postfix(ret=f"{row.get('episode_return_mean', float('nan')):.3f}")
        bar.close()
        algorithm.save(str(out / CHECKPOINT_DIR))
        module = algorithm.get_module()
        export_policy(
            algorithm, out, int(module.observation_space.shape[0]), int(module.action_space.n)
        )
    finally:
        algorithm.stop()
    _write_progress(out / "progress.csv", rows)
    settings = {**config.to_dict(), "wall_seconds": round(time.time() - started, 1)}
    if rows:
        settings["last_iteration"] = rows[-1]
    (out / "settings.json").write_text(json.dumps(settings, indent=2))
    from convenv.run_manifest import write_run_manifest

    write_run_manifest(out, "train", config.to_dict(), started, seeds={"train": config.seed})
    return out


def _write_progress(path: Path, rows: list[dict[str, float]]) -> None:
    names = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, names)
        writer.writeheader()
        writer.writerows(rows)
