"""``convenv main``: every task on the embedded default, each learned policy against the
best fixed sequence of codes (searched on train personas) on held-out test personas.

For each task (identification and authentication by default) PPO is trained as the
task's plan says (:class:`~convenv.tasks.MainJobPlan`: timesteps, training options,
a warm start) and benchmarked beside the task's baselines on the 118 test personas;
authentication reports one benchmark per impostor kind, with PPO's dialog features
held at their mean as an ablation.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from convenv.arguments import positive
from convenv.cli import plain
from convenv.config import EnvConfig
from convenv.run_manifest import write_run_manifest
from convenv.tasks import task_class, task_names
from convenv.training.bench import markdown_table, run_bench, write_outputs
from convenv.training.train_policy import TrainConfig, train


def bench_arguments(args: argparse.Namespace, task: str, policies: list[str], out: Path):
    """The ``convenv bench`` options the main job benchmarks ``task`` with."""
    from convenv.arguments import task_option_fields

    values = {f.name: f.default for f in EnvConfig.__dataclass_fields__.values()}
    values = {k: v for k, v in values.items() if k not in ("task_options", "personas")}
    values.update(
        task=task,
        policies=policies,
        repeats=args.repeats,
        seed=args.seed,
        out=str(out),
        search_episodes=256,
        n_envs=args.n_envs,
        progress=args.progress,
        threads=args.threads,
        ray=False,
        **{name: None for name in task_option_fields()},
    )
    return argparse.Namespace(**values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convenv main",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--tasks",
        nargs="+",
        choices=task_names(),
        default=list(task_names()),
        help="the tasks to train and benchmark",
    )
    parser.add_argument(
        "--timesteps",
        type=positive("--timesteps"),
        default=None,
        help="PPO's env steps for every task (unset: each task's plan)",
    )
    parser.add_argument(
        "--warm-start",
        default=None,
        help="a registered heuristic cloned before PPO, or 'none' (unset: each task's plan)",
    )
    parser.add_argument("--n-envs", type=positive("--n-envs"), default=16, help="parallel envs")
    parser.add_argument(
        "--repeats", type=positive("--repeats"), default=8, help="bench episodes per test persona"
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds training and the benchmark")
    parser.add_argument("--out", default="runs/main", help="output directory")
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bars"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: all)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    started = time.time()
    tables = []
    for task in args.tasks:
        plan = task_class(task).main_job
        warm = plan.warm_start if args.warm_start is None else args.warm_start
        config = TrainConfig(
            env=EnvConfig(task=task, task_options=dict(plan.train_options)),
            timesteps=args.timesteps or plan.timesteps,
            n_envs=args.n_envs,
            seed=args.seed,
            out=str(out / task / "train"),
            progress=args.progress,
            warm_start=None if warm in (None, "none") else warm,
            threads=args.threads,
            overwrite=True,  # the main job owns its --out and redoes all of it
        )
        model = train(config)
        policies = [
            *task_class(task).default_policies,
            str(model),
            *(p.format(model=model) for p in plan.extra_policies),
        ]
        bench_args = bench_arguments(args, task, policies, out / task / "bench")
        results = run_bench(bench_args, None)
        write_outputs(results, Path(bench_args.out))
        tables += [markdown_table(r) for r in results]
    write_run_manifest(out, "main", vars(args), started)
    print("\n\n".join(tables))
    print(f"\ntotal {time.time() - started:.0f} s. Outputs in {out}/")
    return 0
