"""``convenv train``: learn an action policy with Stable-Baselines3 (or RLlib PPO)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, EvalCallback
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import VecMonitor

from convenv.arguments import (
    add_dataclass_arguments,
    add_env_arguments,
    dataclass_values,
    env_config_from_arguments,
)
from convenv.cli import plain
from convenv.config import EnvConfig, option
from convenv.errors import InvalidArgumentError, positive_int
from convenv.policies.sb3 import ALGORITHMS, algorithm_class
from convenv.run_manifest import write_run_manifest
from convenv.splits import training_personas, validation_personas
from convenv.vec_env import BatchedDialogVecEnv

BACKENDS = ("sb3", "rllib")


@dataclass
class RLlibSettings:
    """Settings of ``--backend rllib`` only."""

    num_env_runners: int = option(0, "rllib: remote env runners (0: sample in the driver)")
    envs_per_runner: int = option(16, "rllib: envs each runner steps in one batched call")
    gpus_per_runner: float = option(0.0, "rllib: GPUs per env runner (a generative partner on GPU)")
    address: str = option("", "rllib: the Ray cluster to join (unset: start a local one)")

    def __post_init__(self) -> None:
        if self.num_env_runners < 0 or self.envs_per_runner < 1 or self.gpus_per_runner < 0:
            raise InvalidArgumentError(
                f"num_env_runners={self.num_env_runners}, envs_per_runner="
                f"{self.envs_per_runner}, gpus_per_runner={self.gpus_per_runner}; pass 0 or "
                "more runners, at least 1 env each and 0 or more GPUs."
            )

    @property
    def is_default(self) -> bool:
        return self == RLlibSettings()


@dataclass
class TrainConfig:
    """Settings of one training run (saved next to the model as ``settings.json``).

    ``env`` is the training env's config; it plays train personas minus the validation
    slice, and validation episodes play that slice.
    """

    env: EnvConfig = field(default_factory=EnvConfig, metadata={"cli": False})
    algorithm: str = option("ppo", "the SB3 algorithm", choices=ALGORITHMS)
    backend: str = option("sb3", "sb3 (one process) or rllib (Ray RLlib PPO)", choices=BACKENDS)
    timesteps: int = option(250_000, "env steps to train for")
    n_envs: int = option(16, "parallel interviews (one batched env)")
    seed: int = option(0, "makes the run reproducible")
    eval_every: int = option(5_000, "env steps between evaluations on validation personas")
    eval_episodes: int = option(64, "validation episodes per evaluation")
    out: str = option("runs/train", "output directory")
    progress: bool = option(True, "show a progress bar")
    threads: int = option(1, "torch CPU threads (0: the free cores); 1 is fastest here")
    overwrite: bool = option(False, "replace an earlier run in --out (else refuse)")
    learning_rate: float | None = option(
        None, "optimizer step size (unset: tuned per algorithm and task)"
    )
    n_steps: int | None = option(None, "PPO/A2C: steps per env per update (unset: tuned)")
    batch_size: int | None = option(None, "PPO/DQN: minibatch size (unset: tuned)")
    gae_lambda: float | None = option(None, "PPO/A2C: GAE lambda (unset: tuned)")
    ent_coef: float | None = option(None, "PPO/A2C: entropy bonus (unset: tuned)")
    warm_start: str | None = option(
        None,
        "PPO/A2C: first fit the policy to this registered heuristic's actions (behaviour "
        "cloning), then learn; e.g. claim-adaptive in authentication",
    )
    warm_start_episodes: int = option(3000, "train-persona episodes of the heuristic to clone")
    rllib: RLlibSettings = field(default_factory=RLlibSettings, metadata={"cli": False})

    def __post_init__(self) -> None:
        if not isinstance(self.env, EnvConfig):
            raise InvalidArgumentError(
                f"env={self.env!r}; pass a convenv.config.EnvConfig (the training env)."
            )
        if self.algorithm.lower() not in ALGORITHMS:
            raise InvalidArgumentError(f"algorithm={self.algorithm!r}; pass one of {ALGORITHMS}.")
        self.algorithm = self.algorithm.lower()
        if self.backend not in BACKENDS:
            raise InvalidArgumentError(f"backend={self.backend!r}; pass one of {BACKENDS}.")
        if self.backend == "sb3" and not self.rllib.is_default:
            raise InvalidArgumentError(
                "num_env_runners, envs_per_runner, gpus_per_runner and address are options "
                "of --backend rllib; drop them or pass --backend rllib."
            )
        for name in ("timesteps", "n_envs", "eval_every", "eval_episodes", "warm_start_episodes"):
            setattr(self, name, positive_int(getattr(self, name), name))
        if self.warm_start is not None:
            self._check_warm_start()

    def _check_warm_start(self) -> None:
        from convenv.policies.registry import find_policy

        task = type(self.env.make_task())
        entry = find_policy(self.warm_start)
        if not entry.supports(task) or entry.cheats(task):
            raise InvalidArgumentError(
                f"warm_start={self.warm_start!r} does not play task {task.name!r} fairly "
                "(a teacher must read only what the task shows); pick a heuristic that does, "
                "e.g. claim-adaptive in authentication."
            )
        if self.algorithm not in ("ppo", "a2c") or self.backend != "sb3":
            raise InvalidArgumentError(
                "warm_start fits an actor-critic network: use it with --algorithm ppo "
                "or a2c and --backend sb3."
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the env's config as its run record shows it)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["env"] = self.env.to_dict()
        out["rllib"] = dataclasses.asdict(self.rllib)
        return out

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> TrainConfig:
        env = env_config_from_arguments(args, {"split": "train"})
        unset = {
            k: v for k, v in type(env.make_task()).train_defaults.items()
            if k not in env.task_options
        }  # fmt: skip
        if unset:
            env = EnvConfig.of(env, task_options={**env.task_options, **unset})
        rllib = RLlibSettings(**dataclass_values(RLlibSettings, args))
        return cls(env=env, rllib=rllib, **dataclass_values(cls, args, skip=("env", "rllib")))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The training env's options, the trainer's and the RLlib backend's, as flags."""
    add_env_arguments(parser, skip=("split",))
    add_dataclass_arguments(parser.add_argument_group("training"), TrainConfig)
    add_dataclass_arguments(parser.add_argument_group("rllib backend"), RLlibSettings)


class EpisodeMetricsCallback(BaseCallback):
    """Logs, after every rollout, the task's report metrics over the last ``window``
    finished episodes (identification: the ranking metrics; authentication: ROC-AUC
    and EER of final support) next to the reward, as ``task/<metric>``."""

    def __init__(self, task, window: int = 256) -> None:
        super().__init__()
        self.task = task
        self.finished: deque = deque(maxlen=window)

    def _on_step(self) -> bool:
        for info, done in zip(self.locals["infos"], self.locals["dones"], strict=True):
            if done:
                self.finished.append(_Finished([info["metrics"]], info.get("genuine")))
        return True

    def _on_rollout_end(self) -> None:
        if len(self.finished) < 2:
            return
        episodes = list(self.finished)
        every = np.arange(len(episodes))
        for name, statistic in self.task.statistics(episodes, 1).items():
            value = statistic(every)
            if np.isfinite(value):
                self.logger.record(f"task/{name}", float(value))


@dataclass
class _Finished:
    """What a finished episode's last info tells: its final metrics and its truth."""

    metrics: list[dict]
    genuine: bool | None


# Which config fields each algorithm takes (None keeps the tuned value).
TUNABLE = {
    "ppo": ("learning_rate", "n_steps", "batch_size", "gae_lambda", "ent_coef"),
    "a2c": ("learning_rate", "n_steps", "gae_lambda", "ent_coef"),
    "dqn": ("learning_rate", "batch_size"),
}


def algorithm_kwargs(config: TrainConfig) -> dict:
    """The algorithm's settings: the task's tuned ones where it has them, else these,
    then whatever the config sets."""
    kwargs = config.env.make_task().algorithm_defaults(config.algorithm)
    if kwargs is None and config.algorithm == "ppo":
        # Measured on validation personas (identification): many small updates (two
        # episodes per env per rollout) and GAE lambda 0: the per-turn reward already
        # carries what an action revealed, and longer returns only add later turns' noise.
        kwargs = {
            "n_steps": 16,
            "batch_size": 64,
            "n_epochs": 4,
            "learning_rate": 1e-3,
            "gae_lambda": 0.0,
            "ent_coef": 0.01,
            "gamma": 1.0,
        }
    elif kwargs is None and config.algorithm == "a2c":
        kwargs = {"n_steps": 8, "gamma": 1.0, "ent_coef": 0.01}
    elif kwargs is None:
        kwargs = {
            "learning_starts": 500,
            "buffer_size": 50_000,
            "gamma": 1.0,
            "train_freq": 4,
            "exploration_fraction": 0.3,
        }
    kwargs = dict(kwargs)
    for name in TUNABLE[config.algorithm]:
        if getattr(config, name) is not None:
            kwargs[name] = getattr(config, name)
    return kwargs


def steps_per_collection(model) -> int:
    """Env steps SB3 collects between two checks of ``total_timesteps``: a whole rollout
    (``n_steps`` × envs) for PPO and A2C, ``train_freq`` steps × envs for DQN."""
    if hasattr(model, "n_steps"):
        return int(model.n_steps * model.n_envs)
    frequency = getattr(model, "train_freq", None)
    if frequency is not None and str(getattr(frequency, "unit", "step")).endswith("step"):
        return int(frequency.frequency * model.n_envs)
    return int(model.n_envs)


def timesteps_to_run(asked: int, chunk: int) -> int:
    """``asked`` rounded up to whole collections of ``chunk`` steps: what SB3 runs
    (it stops only between collections), so the progress bar's total is what it reaches."""
    return -(-asked // chunk) * chunk


def fresh_run_directory(config: TrainConfig, markers: Sequence[str]) -> Path:
    """``config.out``, created; an earlier run in it (any of ``markers``) is refused, or
    removed with ``overwrite``: two runs' logs must not mix."""
    out = Path(config.out)
    if any((out / name).exists() for name in markers):
        if not config.overwrite:
            raise InvalidArgumentError(
                f"out={config.out!r} holds an earlier run; pass --overwrite to replace it "
                "or choose another --out (two runs' logs must not mix)."
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


class ReportAfterEvaluation(BaseCallback):
    """Hands each validation result to ``report`` (e.g. Ray Tune's, so ASHA can stop a
    trial early); runs as the EvalCallback's ``callback_after_eval``."""

    def __init__(self, report: Callable[[dict], None]) -> None:
        super().__init__()
        self.report = report

    def _on_step(self) -> bool:
        self.report(
            {
                "validation_return": float(self.parent.last_mean_reward),
                "timesteps": int(self.num_timesteps),
            }
        )
        return True


def train(config: TrainConfig, report: Callable[[dict], None] | None = None) -> Path:
    """Train, evaluate on validation personas as it goes, save; returns the model path
    (for the RLlib backend: the run directory, with the checkpoint and policy export).

    ``report`` receives the validation return after every evaluation (SB3 backend).
    """
    from convenv.devices import set_torch_threads

    if config.backend == "rllib":
        from convenv.training.rllib_train import train_rllib

        return train_rllib(config)

    set_torch_threads(config.threads)
    out = fresh_run_directory(config, ("model.zip", "progress.csv", "settings.json"))
    train_env = EnvConfig.of(config.env, split="train", personas=training_personas())
    eval_env = EnvConfig.of(config.env, split="train", personas=validation_personas())
    env = VecMonitor(BatchedDialogVecEnv(config.n_envs, train_env))
    env.seed(config.seed)
    evaluation_env = VecMonitor(
        BatchedDialogVecEnv(min(config.n_envs, config.eval_episodes), eval_env)
    )
    evaluation_env.seed(config.seed + 10_000)
    model = algorithm_class(config.algorithm)(
        "MlpPolicy", env, seed=config.seed, device="cpu", verbose=0, **algorithm_kwargs(config)
    )
    model.set_logger(configure(str(out), ["csv", "tensorboard"]))
    cloned = None
    if config.warm_start is not None:
        from convenv.env import PersonaInterviewEnv
        from convenv.training.warm_start import clone, demonstrations

        source = PersonaInterviewEnv(train_env)
        x, y = demonstrations(source, config.warm_start, config.warm_start_episodes,
                              config.progress)  # fmt: skip
        cloned = clone(model.policy, x, y, seed=config.seed, progress=config.progress)
        source.close()
    evaluation = EvalCallback(
        evaluation_env,
        n_eval_episodes=config.eval_episodes,
        eval_freq=max(1, config.eval_every // config.n_envs),
        best_model_save_path=str(out / "best"),
        log_path=str(out / "eval"),
        deterministic=True,
        verbose=0,
        callback_after_eval=ReportAfterEvaluation(report) if report is not None else None,
    )
    task = env.get_attr("task", [0])[0]
    timesteps = timesteps_to_run(config.timesteps, steps_per_collection(model))
    if timesteps != config.timesteps:
        print(
            f"convenv train: {config.algorithm.upper()} collects "
            f"{steps_per_collection(model):,} env steps at a time: training "
            f"{timesteps:,} steps (--timesteps {config.timesteps:,})"
        )
    started = time.time()
    model.learn(
        total_timesteps=timesteps,
        callback=CallbackList([EpisodeMetricsCallback(task), evaluation]),
        progress_bar=config.progress,
    )
    model_path = out / "model.zip"
    model.save(str(model_path))
    settings = {
        **config.to_dict(),
        "timesteps_run": int(model.num_timesteps),
        "wall_seconds": round(time.time() - started, 1),
    }
    if cloned is not None:
        settings["warm_start_agreement"] = round(cloned, 4)
    if evaluation.evaluations_results:
        settings["validation_return"] = float(np.mean(evaluation.evaluations_results[-1]))
    (out / "settings.json").write_text(json.dumps(settings, indent=2))
    encoder = env.get_attr("encoder", [0])[0]
    write_run_manifest(
        out, "train", config.to_dict(), started, seeds={"train": config.seed,
        "validation": config.seed + 10_000},
        identifier_encoder=getattr(encoder, "model_id", None),
    )  # fmt: skip
    env.close()
    evaluation_env.close()
    return model_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convenv train",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    path = train(TrainConfig.from_arguments(args))
    settings = (path if path.is_dir() else path.parent) / "settings.json"
    print(f"saved {path} and {settings}")
    return 0
