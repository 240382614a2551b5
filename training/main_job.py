"""``convenv main``: train a PPO policy on the embedded default, then benchmark it
against random, round robin and the topic oracle on the held-out test personas."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from convenv.env import PersonaInterviewEnv
from convenv.training.bench import benchmark, markdown_table, write_outputs
from convenv.training.policy_specs import make_policies
from convenv.training.train_policy import TrainConfig, train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="convenv main", description=__doc__)
    parser.add_argument("--timesteps", type=int, default=250_000)
    parser.add_argument("--n-envs", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=8, help="bench episodes per test persona")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/main")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    out = Path(args.out)
    started = time.time()
    model_path = train(
        TrainConfig(
            timesteps=args.timesteps,
            n_envs=args.n_envs,
            seed=args.seed,
            out=str(out / "train"),
            progress=args.progress,
        )
    )
    trained = time.time()
    env = PersonaInterviewEnv(split="test")
    policies = make_policies(["random", "round-robin", "oracle", str(model_path)], env, args.seed)
    results = benchmark(env, policies, args.repeats, args.seed, args.n_envs, args.progress)
    write_outputs(results, out / "bench")
    print(markdown_table(results))
    print(
        f"\nPPO trained for {args.timesteps} steps in {trained - started:.0f} s; "
        f"{results[0].episodes} test episodes per policy; total {time.time() - started:.0f} s. "
        f"Outputs in {out}/"
    )
    return 0
