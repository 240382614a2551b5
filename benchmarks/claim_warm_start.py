"""Experiment (#14): can PPO's network read the claim? Clone the claim heuristic, then PPO.

Plays the claim-driven heuristic on train personas (authentication, the consistent
partner and the judge-filtered identifier, mixed impostors), fits the policy network
of an SB3 PPO model to its actions (behaviour cloning, cross-entropy), saves it,
then continues with PPO for ``--steps`` and saves that too. Both are ``convenv
train``-style run directories, so ``convenv bench`` compares them with the best fixed
sequence::

    python benchmarks/claim_warm_start.py --steps 300000
    convenv bench --task authentication --partner consistent --identifier filtered \\
        --policies best-fixed claim runs/auth_bc/model.zip runs/auth_bc_ppo/model.zip \\
        ablate:runs/auth_bc/model.zip --repeats 8 --out runs/auth_bc_bench
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecMonitor

from convenv.agents.devices import set_torch_threads
from convenv.env import PersonaInterviewEnv
from convenv.policies import TopicOraclePolicy
from convenv.policies.base import ActionPolicy
from convenv.training.rollout import run_episodes
from convenv.training.splits import training_personas
from convenv.training.train_policy import TrainConfig, _algorithm_kwargs
from convenv.vec_env import BatchedDialogVecEnv


class Recorder(ActionPolicy):
    """Plays ``inner`` and keeps every (observation, action) pair."""

    def __init__(self, inner: ActionPolicy) -> None:
        self.inner, self.name = inner, inner.name
        self.observations: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []

    def begin_episode(self, env_index, persona, seed=None) -> None:
        self.inner.begin_episode(env_index, persona, seed)

    def act(self, observations: np.ndarray) -> np.ndarray:
        actions = self.inner.act(observations)
        self.observations.append(observations.copy())
        self.actions.append(np.asarray(actions).copy())
        return actions


def save(model: PPO, out: Path, config: TrainConfig, note: str) -> None:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    model.save(str(out / "model.zip"))
    settings = {"algorithm": "ppo", **config.env_kwargs(), "note": note}
    (out / "settings.json").write_text(json.dumps(settings, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=3000, help="heuristic episodes cloned")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--steps", type=int, default=300_000, help="PPO steps after cloning")
    parser.add_argument("--out", default="runs")
    args = parser.parse_args()
    set_torch_threads(1)
    config = TrainConfig(task="authentication", impostor="mixed", threshold=0.6,
                         partner="consistent", identifier="filtered")  # fmt: skip
    env = PersonaInterviewEnv(personas=training_personas(), **config.env_kwargs())
    claim = TopicOraclePolicy(env.actions, env.engine.identifier.encoder)
    claim.name = "claim"
    recorder = Recorder(claim)
    seeds = list(range(2_000_000, 2_000_000 + args.episodes))
    list(run_episodes(env, recorder, seeds, None, 16, progress=True))
    x = torch.as_tensor(np.concatenate(recorder.observations))
    y = torch.as_tensor(np.concatenate(recorder.actions))
    vec = VecMonitor(BatchedDialogVecEnv(16, personas=training_personas(), **config.env_kwargs()))
    vec.seed(0)
    model = PPO("MlpPolicy", vec, seed=0, device="cpu", verbose=0, **_algorithm_kwargs(config))
    optimizer = torch.optim.Adam(model.policy.parameters(), lr=1e-3)
    for _ in range(args.epochs):
        for batch in torch.randperm(len(x)).split(256):
            loss = -model.policy.get_distribution(x[batch]).log_prob(y[batch]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        probs = model.policy.get_distribution(x).distribution.probs
    agreement = float((probs.argmax(dim=1) == y).float().mean())
    print(f"cloned {len(x)} turns; the network picks the heuristic's code on {agreement:.1%}")
    save(model, Path(args.out) / "auth_bc", config, "behaviour clone of the claim heuristic")
    if args.steps:
        model.learn(total_timesteps=args.steps, progress_bar=True)
        save(model, Path(args.out) / "auth_bc_ppo", config, f"clone + {args.steps} PPO steps")
    print(f"saved {args.out}/auth_bc and {args.out}/auth_bc_ppo; compare with convenv bench")


if __name__ == "__main__":
    main()
