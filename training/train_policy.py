"""``convenv train``: learn an action policy with Stable-Baselines3."""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, EvalCallback
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import VecMonitor

from convenv.agent_choice import AGENT_KINDS, INTERVIEWER_KINDS
from convenv.authentication import IMPOSTOR_DESIGNS, TASKS, ImpostorDesign
from convenv.cli import plain
from convenv.errors import InvalidArgumentError
from convenv.interview import NEGATIVE_KINDS, REWARD_MODES
from convenv.metrics import METRIC_NAMES, check_metric_name
from convenv.policies.sb3 import ALGORITHMS, algorithm_class
from convenv.run_manifest import write_run_manifest
from convenv.training.splits import training_personas, validation_personas
from convenv.training.warm_start import WARM_STARTS
from convenv.vec_env import BatchedDialogVecEnv

BACKENDS = ("sb3", "rllib")


@dataclass
class TrainConfig:
    """Settings of one training run (saved next to the model as ``settings.json``)."""

    algorithm: str = field(default="ppo", metadata={"help": "SB3 algorithm", "choices": ALGORITHMS})
    backend: str = field(
        default="sb3",
        metadata={"help": "sb3 (one process) or rllib (Ray RLlib PPO)", "choices": BACKENDS},
    )
    num_env_runners: int = field(
        default=0, metadata={"help": "rllib: remote env runners (0: sample in the driver)"}
    )
    envs_per_runner: int = field(
        default=16, metadata={"help": "rllib: envs each runner steps in one batched call"}
    )
    gpus_per_runner: float = field(
        default=0.0,
        metadata={"help": "rllib: GPUs per env runner (a generative partner on GPU)"},
    )
    address: str = field(
        default="", metadata={"help": "rllib: Ray cluster to join (default: start a local one)"}
    )
    timesteps: int = field(default=250_000, metadata={"help": "env steps to train for"})
    n_envs: int = field(default=16, metadata={"help": "parallel interviews (one batched env)"})
    seed: int = field(default=0, metadata={"help": "makes the run reproducible"})
    max_turns: int = field(default=8, metadata={"help": "questions per episode"})
    reward_metric: str = field(
        default="auc", metadata={"help": "metric to reward", "choices": METRIC_NAMES}
    )
    reward_mode: str = field(
        default="delta",
        metadata={"help": "per-turn change or final value", "choices": REWARD_MODES},
    )
    task: str = field(default="identification", metadata={"help": "which task", "choices": TASKS})
    impostor: str = field(
        default="mixed", metadata={"help": "authentication impostors", "choices": IMPOSTOR_DESIGNS}
    )
    genuine_rate: float = field(
        default=0.5, metadata={"help": "authentication: share of genuine partners"}
    )
    threshold: float = field(
        default=0.5,
        metadata={"help": "authentication: the support that earns nothing (reward centre)"},
    )
    eval_every: int = field(default=5_000, metadata={"help": "env steps between evaluations"})
    eval_episodes: int = field(default=64, metadata={"help": "validation episodes per eval"})
    out: str = field(default="runs/train", metadata={"help": "output directory"})
    partner: str = field(
        default="retrieval", metadata={"help": "who answers", "choices": AGENT_KINDS}
    )
    interviewer: str = field(
        default="retrieval", metadata={"help": "who asks", "choices": INTERVIEWER_KINDS}
    )
    model: str | None = field(default=None, metadata={"help": "PersonaGPT name or directory"})
    device: str = field(default="auto", metadata={"help": "device of the dialog models"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})
    threads: int = field(
        default=1, metadata={"help": "torch CPU threads (0: the free cores); 1 is fastest here"}
    )
    overwrite: bool = field(
        default=False, metadata={"help": "replace an earlier run in --out (else refuse)"}
    )
    identifier: str | None = field(
        default=None,
        metadata={
            "help": "'filtered' (no credit for contradictions) or a fine-tuned identifier "
            "directory (default: zero-shot)"
        },
    )
    negatives: str | None = field(
        default=None,
        metadata={
            "help": "wrong candidate facts (default: random for identification, hard for "
            "authentication)",
            "choices": NEGATIVE_KINDS,
        },
    )
    learning_rate: float | None = field(
        default=None, metadata={"help": "optimizer step size (default: per algorithm and task)"}
    )
    n_steps: int | None = field(
        default=None, metadata={"help": "PPO/A2C: steps per env per update (default: per task)"}
    )
    batch_size: int | None = field(
        default=None, metadata={"help": "PPO/DQN: minibatch size (default: per task)"}
    )
    gae_lambda: float | None = field(
        default=None, metadata={"help": "PPO/A2C: GAE lambda (default: per task)"}
    )
    ent_coef: float | None = field(
        default=None, metadata={"help": "PPO/A2C: entropy bonus (default 0.01)"}
    )
    warm_start: str | None = field(
        default=None,
        metadata={
            "help": "authentication, PPO/A2C: first fit the policy to this teacher's "
            "actions (behaviour cloning), then learn; lookahead-per-claim is a privileged "
            "teacher that knows the truth of train-persona episodes",
            "choices": WARM_STARTS,
        },
    )
    warm_start_episodes: int = field(
        default=3000, metadata={"help": "train-persona episodes of the heuristic to clone"}
    )

    def __post_init__(self) -> None:
        if self.algorithm.lower() not in ALGORITHMS:
            raise InvalidArgumentError(f"algorithm={self.algorithm!r}; pass one of {ALGORITHMS}.")
        self.algorithm = self.algorithm.lower()
        if self.backend not in BACKENDS:
            raise InvalidArgumentError(f"backend={self.backend!r}; pass one of {BACKENDS}.")
        if self.backend == "sb3" and (self.num_env_runners or self.address or self.gpus_per_runner):
            raise InvalidArgumentError(
                "num_env_runners, gpus_per_runner and address are options of --backend "
                "rllib; drop them or pass --backend rllib."
            )
        if self.num_env_runners < 0 or self.envs_per_runner < 1 or self.gpus_per_runner < 0:
            raise InvalidArgumentError(
                f"num_env_runners={self.num_env_runners}, envs_per_runner="
                f"{self.envs_per_runner}, gpus_per_runner={self.gpus_per_runner}; pass 0 or "
                "more runners, at least 1 env each and 0 or more GPUs."
            )
        for name in ("timesteps", "n_envs", "max_turns", "eval_every", "eval_episodes"):
            if getattr(self, name) < 1:
                raise InvalidArgumentError(
                    f"{name}={getattr(self, name)!r}; pass a positive integer."
                )
        check_metric_name(self.reward_metric, "reward_metric")
        if self.task not in TASKS:
            raise InvalidArgumentError(f"task={self.task!r}; pass one of {TASKS}.")
        ImpostorDesign(self.genuine_rate, self.impostor)  # validates both
        if self.warm_start is not None:
            if self.warm_start not in WARM_STARTS:
                raise InvalidArgumentError(
                    f"warm_start={self.warm_start!r}; pass one of {WARM_STARTS}."
                )
            if self.task != "authentication":
                raise InvalidArgumentError(
                    "warm_start reads the claim, which only authentication has; drop it "
                    "or pass --task authentication."
                )
            if self.algorithm not in ("ppo", "a2c") or self.backend != "sb3":
                raise InvalidArgumentError(
                    "warm_start fits an actor-critic network: use it with --algorithm ppo "
                    "or a2c and --backend sb3."
                )
            if self.warm_start_episodes < 1:
                raise InvalidArgumentError(
                    f"warm_start_episodes={self.warm_start_episodes!r}; pass a positive integer."
                )

    def env_kwargs(self) -> dict:
        return {
            "task": self.task,
            "impostor": self.impostor,
            "genuine_rate": self.genuine_rate,
            "threshold": self.threshold,
            "identifier": self.identifier,
            "negatives": self.negatives,
            "max_turns": self.max_turns,
            "reward_metric": self.reward_metric,
            "reward_mode": self.reward_mode,
            "partner": self.partner,
            "interviewer": self.interviewer,
            "model": self.model,
            "device": self.device,
        }


class IdentificationMetricsCallback(BaseCallback):
    """Logs the identification metrics of finished episodes next to the reward."""

    def _on_step(self) -> bool:
        for info, done in zip(self.locals["infos"], self.locals["dones"], strict=True):
            if done:
                for name in METRIC_NAMES:
                    self.logger.record_mean(f"identification/{name}", info["metrics"][name])
        return True


# Which config fields each algorithm takes (None keeps the default below).
TUNABLE = {
    "ppo": ("learning_rate", "n_steps", "batch_size", "gae_lambda", "ent_coef"),
    "a2c": ("learning_rate", "n_steps", "gae_lambda", "ent_coef"),
    "dqn": ("learning_rate", "batch_size"),
}


def _algorithm_kwargs(config: TrainConfig) -> dict:
    if config.algorithm == "ppo" and config.task == "authentication":
        # Authentication's reward carries the sign of a coin flip the policy cannot
        # influence, so each update needs many episodes to see the signal; and the
        # gains of one code over another are ~0.01 per episode, below what an entropy
        # bonus of 0.01 pays for staying random (measured: with it the policy stayed
        # near uniform over 1M steps; without it, it learned to ask about the claim).
        kwargs = {
            "n_steps": 64,
            "batch_size": 256,
            "n_epochs": 4,
            "learning_rate": 3e-4,
            "gae_lambda": 0.9,
            "ent_coef": 0.0,
            "gamma": 1.0,
        }
    elif config.algorithm == "ppo":
        # Measured on validation personas: many small updates (two episodes per env per
        # rollout) and GAE lambda 0 — the per-turn reward already carries what an action
        # revealed, and longer returns only add the noise of later turns.
        kwargs = {
            "n_steps": 16,
            "batch_size": 64,
            "n_epochs": 4,
            "learning_rate": 1e-3,
            "gae_lambda": 0.0,
            "ent_coef": 0.01,
            "gamma": 1.0,
        }
    elif config.algorithm == "a2c":
        kwargs = {"n_steps": 8, "gamma": 1.0, "ent_coef": 0.01}
    else:
        kwargs = {
            "learning_starts": 500,
            "buffer_size": 50_000,
            "gamma": 1.0,
            "train_freq": 4,
            "exploration_fraction": 0.3,
        }
    for name in TUNABLE[config.algorithm]:
        if getattr(config, name) is not None:
            kwargs[name] = getattr(config, name)
    return kwargs


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
    from convenv.agents.devices import set_torch_threads

    if config.backend == "rllib":
        from convenv.training.rllib_train import train_rllib

        return train_rllib(config)

    set_torch_threads(config.threads)
    out = fresh_run_directory(config, ("model.zip", "progress.csv", "settings.json"))
    env = VecMonitor(
        BatchedDialogVecEnv(config.n_envs, personas=training_personas(), **config.env_kwargs())
    )
    env.seed(config.seed)
    eval_env = VecMonitor(
        BatchedDialogVecEnv(
            min(config.n_envs, config.eval_episodes),
            personas=validation_personas(),
            **config.env_kwargs(),
        )
    )
    eval_env.seed(config.seed + 10_000)
    model = algorithm_class(config.algorithm)(
        "MlpPolicy", env, seed=config.seed, device="cpu", verbose=0, **_algorithm_kwargs(config)
    )
    model.set_logger(configure(str(out), ["csv", "tensorboard"]))
    cloned = None
    if config.warm_start is not None:
        from convenv.env import PersonaInterviewEnv
        from convenv.training.warm_start import clone, demonstrations

        source = PersonaInterviewEnv(personas=training_personas(), **config.env_kwargs())
        x, y = demonstrations(source, config.warm_start, config.warm_start_episodes,
                              config.progress)  # fmt: skip
        cloned = clone(model.policy, x, y, seed=config.seed, progress=config.progress)
        source.close()
    evaluation = EvalCallback(
        eval_env,
        n_eval_episodes=config.eval_episodes,
        eval_freq=max(1, config.eval_every // config.n_envs),
        best_model_save_path=str(out / "best"),
        log_path=str(out / "eval"),
        deterministic=True,
        verbose=0,
        callback_after_eval=ReportAfterEvaluation(report) if report is not None else None,
    )
    started = time.time()
    model.learn(
        total_timesteps=config.timesteps,
        callback=CallbackList([IdentificationMetricsCallback(), evaluation]),
        progress_bar=config.progress,
    )
    model_path = out / "model.zip"
    model.save(str(model_path))
    settings = {**asdict(config), "wall_seconds": round(time.time() - started, 1)}
    if cloned is not None:
        settings["warm_start_agreement"] = round(cloned, 4)
    if evaluation.evaluations_results:
        settings["validation_return"] = float(np.mean(evaluation.evaluations_results[-1]))
    (out / "settings.json").write_text(json.dumps(settings, indent=2))
    write_run_manifest(
        out, "train", asdict(config), started, seeds={"train": config.seed,
        "validation": config.seed + 10_000},
        identifier_encoder=getattr(env.venv.engine.identifier.encoder, "model_id", None),
    )  # fmt: skip
    env.close()
    eval_env.close()
    return model_path


def add_arguments(parser: argparse.ArgumentParser, config: type = TrainConfig) -> None:
    """One ``--flag`` per config field, with its help text."""
    for name, spec in config.__dataclass_fields__.items():
        flag = "--" + name.replace("_", "-")
        help_text = spec.metadata.get("help", "")
        if spec.type in ("bool", bool):
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=spec.default, help=help_text
            )
        else:
            kinds = {"int": int, "float": float, "int | None": int, "float | None": float}
            kind = kinds.get(spec.type if isinstance(spec.type, str) else spec.type.__name__, str)
            parser.add_argument(
                flag,
                type=kind,
                default=spec.default,
                help=help_text,
                choices=spec.metadata.get("choices"),
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convenv train",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    path = train(TrainConfig(**vars(args)))
    settings = (path if path.is_dir() else path.parent) / "settings.json"
    print(f"saved {path} and {settings}")
    return 0
