"""A new task is one class plus one registration line: this file's task, defined here
and nowhere else, runs through gym.make, gym.make_vec, the SB3 VecEnv, bench and
train unchanged. So do a partner and an identifier registered here by name."""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from convenv.identifier import PersonaIdentifier
from convenv.speakers import (
    IDENTIFIERS,
    PARTNER,
    SPEAKERS,
    IdentifierKind,
    SpeakerKind,
    register_identifier,
    register_speaker,
)
from convenv.statistics import mean_of
from convenv.tasks import ENV_IDS, TASKS, MainJobPlan, ObservationBatch, Task, register_task
from convenv.testing import EchoPartner, GoalInterviewer, HashingEncoder

REPO = Path(__file__).resolve().parents[1]


@dataclass
class TopicsTask(Task):
    """Test-only: the policy sees only which codes it asked; its report is recall@5 and
    MRR, and the reward is doubled when ``double`` is set (an option of its own)."""

    double: bool = field(default=False, metadata={"help": "test task: pay twice the recall"})

    name: ClassVar[str] = "topics-test"
    summary: ClassVar[str] = "a task defined in a test"
    headline: ClassVar[str] = "recall@5"
    report_metrics: ClassVar[tuple[str, ...]] = ("recall@5", "mrr")
    default_policies: ClassVar[tuple[str, ...]] = ("random", "round-robin", "best-fixed")
    observes_answers: ClassVar[bool] = False
    main_job: ClassVar[MainJobPlan] = MainJobPlan(timesteps=64)

    def prepare(self) -> None:
        width = len(self.bound.actions) + 1
        self.observation_space = spaces.Box(0.0, 1.0, shape=(width,), dtype=np.float32)

    def dialog_slice(self) -> slice:
        return slice(0, 0)  # nothing of what was said is observed

    def observe(self, batch: ObservationBatch) -> np.ndarray:
        turns = self.bound.max_turns
        return np.concatenate(
            [batch.counts / turns, (np.asarray(batch.turns) / turns)[:, None]], axis=1
        ).astype(np.float32)

    def signs(self, episodes) -> np.ndarray:
        return np.full(len(episodes), 2.0 if self.double else 1.0)

    def statistics(
        self, records: Sequence, turn: int, calibration: Mapping[str, float] | None = None
    ):
        return {m: mean_of([r.metrics[turn - 1][m] for r in records]) for m in self.report_metrics}


@pytest.fixture(scope="module")
def registered():
    """The task, a partner, an interviewer and an identifier, each registered by one line."""
    register_task(TopicsTask, train_id="convenv/TopicsTest-v0", eval_id="convenv/TopicsTestEval-v0")
    register_speaker(SpeakerKind("echo-test", "test", frozenset({PARTNER}), _echo))
    register_speaker(SpeakerKind("goal-test", "test", frozenset({"interviewer"}), _goal))
    register_identifier(IdentifierKind("hashing-test", "test", _hashing))
    yield
    for env_id in ("convenv/TopicsTest-v0", "convenv/TopicsTestEval-v0"):
        gym.registry.pop(env_id)
        ENV_IDS.pop(env_id)
    TASKS.pop("topics-test")
    SPEAKERS.pop("echo-test")
    SPEAKERS.pop("goal-test")
    IDENTIFIERS.pop("hashing-test")


def _echo(request, role):
    return EchoPartner()


def _goal(request, role):
    return GoalInterviewer()


def _hashing(request):
    return PersonaIdentifier(HashingEncoder())


NAMES = {"partner": "echo-test", "interviewer": "goal-test", "identifier": "hashing-test"}
FLAGS = ["--partner", "echo-test", "--interviewer", "goal-test", "--identifier", "hashing-test"]


def test_gym_make_and_make_vec_run_the_new_task(registered):
    env = gym.make("convenv/TopicsTest-v0", **NAMES, max_turns=3, double=True)
    obs, info = env.reset(seed=0)
    assert obs.shape == (12,) and "persona" not in info  # the base task reveals nothing
    total = 0.0
    for action in (1, 2, 3):
        obs, reward, terminated, _, info = env.step(action)
        total += reward
    assert terminated and obs[1] == pytest.approx(1 / 3)
    assert total == pytest.approx(2 * info["metrics"]["auc"])  # its own option pays twice
    vector = gym.make_vec(
        "convenv/TopicsTest-v0", num_envs=3, vectorization_mode="vector_entry_point",
        **NAMES, max_turns=3,
    )  # fmt: skip
    observations, _ = vector.reset(seed=1)
    assert observations.shape == (3, 12)
    observations, rewards, *_ = vector.step(np.array([0, 1, 2]))
    assert observations.shape == (3, 12) and rewards.shape == (3,)


def test_the_sb3_vec_env_and_ppo_run_the_new_task(registered):
    from stable_baselines3 import PPO

    from convenv.vec_env import BatchedDialogVecEnv

    venv = BatchedDialogVecEnv(4, task="topics-test", max_turns=3, **NAMES)
    model = PPO("MlpPolicy", venv, n_steps=6, batch_size=12, n_epochs=1, device="cpu", seed=0)
    model.learn(48)
    assert venv.observation_space.shape == (12,)


def test_bench_and_train_run_the_new_task(registered, tmp_path, capsys):
    from convenv.training import bench, train_policy

    common = ["--task", "topics-test", *FLAGS, "--max-turns", "3", "--no-progress"]
    assert bench.main([*common, "--limit", "4", "--search-episodes", "4",
                       "--out", str(tmp_path / "bench")]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "### topics-test: 4 episodes" in text and "| best-fixed |" in text
    (result,) = json.loads((tmp_path / "bench" / "results.json").read_text())
    assert result["metrics"] == ["recall@5", "mrr"] and result["headline"] == "recall@5"
    assert train_policy.main([*common, "--timesteps", "32", "--n-envs", "2", "--double",
                              "--eval-every", "1000", "--eval-episodes", "2",
                              "--out", str(tmp_path / "train")]) == 0  # fmt: skip
    settings = json.loads((tmp_path / "train" / "settings.json").read_text())
    assert settings["env"]["task"] == "topics-test"
    assert settings["env"]["task_options"] == {"double": True}


def test_a_task_option_for_another_task_is_refused_by_name(registered):
    from convenv.config import EnvConfig
    from convenv.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="impostor is an option of task"):
        EnvConfig(task="topics-test", task_options={"impostor": "swap"})


def test_no_branch_on_a_task_name_outside_the_tasks_package():
    """Comparisons with a task's name (``task == "authentication"``) belong to the task."""
    names = {"identification", "authentication"}
    found = []
    for folder in ("convenv", "agents", "policies", "training"):
        for path in (REPO / folder).rglob("*.py"):
            if "tasks" in path.relative_to(REPO).parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Compare):
                    parts = [node.left, *node.comparators]
                    strings = {p.value for p in parts if isinstance(p, ast.Constant)}
                    if strings & names:
                        found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not found, found
