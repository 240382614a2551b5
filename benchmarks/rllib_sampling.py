"""Ray on one machine: RLlib sampling and sharded bench episodes, side by side.

Table 1: env steps per CPU-second that an RLlib env runner samples with the env id's
``vector_entry_point`` (one batched engine call per step for all its envs) versus
RLlib's default loop over single envs (``gym_env_vectorize_mode="sync"``), at 16 and
64 envs per runner. Sampling runs in the driver (0 remote runners), so the CPU time
of this process is all the sampling costs; the two modes alternate over ``--rounds``
and the table gives the median round.

Table 2: bench episodes per second (wall clock) in this process versus sharded over
1 and 2 Ray workers (``bench --ray``), same seeds, the random policy; worker start-up
(building the env) is excluded, as a long bench amortises it.

Usage: python benchmarks/rllib_sampling.py [--steps 2048] [--rounds 3] [--episodes 256]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from functools import partial

os.environ.setdefault("OMP_NUM_THREADS", "1")


def sampling_rate(mode: str, n_envs: int, steps: int) -> float:
    """Env steps per CPU-second of one RLlib env runner sampling ``steps`` steps."""
    from ray.rllib.algorithms.ppo import PPOConfig

    config = (
        PPOConfig()
        .environment("convenv:convenv/PersonaInterview-v1")
        .env_runners(
            num_env_runners=0,
            num_envs_per_env_runner=n_envs,
            gym_env_vectorize_mode=mode,
            rollout_fragment_length=8,
        )
        .training(train_batch_size_per_learner=8 * n_envs, minibatch_size=8 * n_envs)
    )
    algorithm = config.build_algo()
    runner = algorithm.env_runner_group.local_env_runner
    runner.sample(num_timesteps=max(n_envs * 8, 256))  # warm the question caches
    started = time.process_time()
    sampled = 0
    while sampled < steps:
        episodes = runner.sample(num_timesteps=n_envs * 8)
        sampled += sum(len(e) for e in episodes)
    seconds = time.process_time() - started
    algorithm.stop()
    return sampled / seconds


def bench_rate(workers: int, episodes: int, partner: str) -> float:
    """Bench episodes per second with ``workers`` Ray workers (0: in this process)."""
    from convenv.env import PersonaInterviewEnv
    from convenv.policies import RandomPolicy
    from convenv.training.bench import play
    from convenv.training.ray_rollout import RayEpisodeRunner

    make_env = partial(PersonaInterviewEnv, split="test", partner=partner)
    env = make_env()
    seeds = list(range(episodes))
    runner = RayEpisodeRunner(make_env, workers) if workers else None
    played = play if runner is None else runner.play
    # Start-up and warm-up on other seeds than the timed ones.
    played(env, RandomPolicy(11, 0), [10**6 + s for s in seeds[:64]], None, 16, False)
    started = time.perf_counter()
    records = played(env, RandomPolicy(11, 0), seeds, None, 16, False)
    seconds = time.perf_counter() - started
    if runner is not None:
        runner.close()
    assert len(records) == episodes
    return episodes / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2048, help="timed env steps per setting")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=1024, help="bench episodes per setting")
    parser.add_argument("--partner", default="retrieval", help="bench table: who answers")
    parser.add_argument("--tables", nargs="+", choices=("sampling", "bench"),
                        default=["sampling", "bench"])  # fmt: skip
    args = parser.parse_args()
    from convenv.ray_support import start_ray

    ray = start_ray(num_cpus=2)
    print(f"load average at start: {os.getloadavg()}")
    print("| envs per runner | single envs (sync) steps/CPU-s | vector entry point | ratio |")
    print("|---|---|---|---|")
    for n_envs in (16, 64) if "sampling" in args.tables else ():
        rates: dict[str, list[float]] = {"sync": [], "vector_entry_point": []}
        for _ in range(args.rounds):
            for mode in rates:
                rates[mode].append(sampling_rate(mode, n_envs, args.steps))
        sync, vector = (statistics.median(rates[m]) for m in rates)
        print(f"| {n_envs} | {sync:,.0f} | {vector:,.0f} | {vector / sync:.2f}x |")
    print()
    print(f"| bench ({args.partner} partner) | episodes/s | vs in-process |")
    print("|---|---|---|")
    base = None
    for workers in (0, 1, 2) if "bench" in args.tables else ():
        rate = bench_rate(workers, args.episodes, args.partner)
        base = base or rate
        label = "in-process" if workers == 0 else f"{workers} Ray worker{'s' * (workers > 1)}"
        print(f"| {label} | {rate:.1f} | {rate / base:.2f}x |")
    print(f"load average at end: {os.getloadavg()}")
    ray.shutdown()


if __name__ == "__main__":
    main()
