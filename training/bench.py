"""``convenv bench``: persona authentication on held-out test personas.

Every policy plays every test persona the same number of times with the same seeds,
so the comparison is paired; results are final-turn metrics with 95% bootstrap
intervals and per-turn curves.
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError
from convenv.metrics import METRIC_NAMES, bootstrap_ci
from convenv.policies.base import ActionPolicy
from convenv.training.policy_specs import make_policies
from convenv.training.rollout import run_episodes
from convenv.training.rollout_arguments import add_rollout_arguments, env_from_arguments

DEFAULT_POLICIES = ["random", "round-robin", "fixed:all", "oracle"]


@dataclass
class PolicyResult:
    """One policy's benchmark: final metrics (mean, low, high) and per-turn means."""

    name: str
    final: dict[str, tuple[float, float, float]]
    curves: dict[str, list[float]]
    episodes: int


def benchmark(
    env: PersonaInterviewEnv,
    policies: list[ActionPolicy],
    repeats: int = 1,
    seed: int = 0,
    batch_size: int = 16,
    progress: bool = True,
) -> list[PolicyResult]:
    """Run each policy on every persona of ``env`` ``repeats`` times with fixed seeds."""
    if repeats < 1:
        raise InvalidArgumentError(f"repeats={repeats!r}; pass a positive integer.")
    n = len(env.personas)
    seeds = [seed * 1_000_003 + k for k in range(n * repeats)]
    options = [{"persona_index": k % n} for k in range(n * repeats)]
    results = []
    for policy in policies:
        records = list(run_episodes(env, policy, seeds, options, batch_size, progress))
        final = {
            m: bootstrap_ci([r.final_metrics[m] for r in records], seed=seed) for m in METRIC_NAMES
        }
        turns = len(records[0].metrics)
        curves = {
            m: [float(np.mean([r.metrics[t][m] for r in records])) for t in range(turns)]
            for m in METRIC_NAMES
        }
        results.append(PolicyResult(policy.name, final, curves, len(records)))
    return results


def markdown_table(results: list[PolicyResult]) -> str:
    """Final-turn metrics as a Markdown table, ``mean [low, high]``."""
    lines = [
        "| policy | " + " | ".join(METRIC_NAMES) + " |",
        "|---" * (len(METRIC_NAMES) + 1) + "|",
    ]
    for r in results:
        cells = [
            f"{m:.3f} [{lo:.3f}, {hi:.3f}]" for m, lo, hi in (r.final[k] for k in METRIC_NAMES)
        ]
        lines.append(f"| {r.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_outputs(results: list[PolicyResult], out: Path) -> None:
    """``results.csv``, ``curves.csv``, ``results.json`` and ``curves.png`` in ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    with (out / "results.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["policy", "metric", "mean", "ci_low", "ci_high", "episodes"])
        for r in results:
            for m in METRIC_NAMES:
                writer.writerow([r.name, m, *(f"{v:.6f}" for v in r.final[m]), r.episodes])
    with (out / "curves.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["policy", "turn", *METRIC_NAMES])
        for r in results:
            for t in range(len(r.curves[METRIC_NAMES[0]])):
                writer.writerow([r.name, t + 1, *(f"{r.curves[m][t]:.6f}" for m in METRIC_NAMES)])
    (out / "results.json").write_text(json.dumps([r.__dict__ for r in results], indent=2))
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for axis, metric in zip(axes, ("precision@1", "recall@5"), strict=True):
        for r in results:
            turns = np.arange(1, len(r.curves[metric]) + 1)
            style = "--" if r.name.startswith("fixed:") else "-"
            width = 0.8 if r.name.startswith("fixed:") else 2.0
            axis.plot(turns, r.curves[metric], style, linewidth=width, label=r.name)
        axis.set_xlabel("turn")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="lower right")
    figure.suptitle("Persona identification on held-out test personas")
    figure.tight_layout()
    figure.savefig(out / "curves.png", dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="convenv bench", description=__doc__)
    parser.add_argument(
        "--policies",
        nargs="+",
        default=DEFAULT_POLICIES,
        help="random, round-robin, oracle, fixed:K, fixed:all, or saved SB3 model paths",
    )
    parser.add_argument("--repeats", type=int, default=1, help="episodes per test persona")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N personas")
    parser.add_argument("--out", default="runs/bench")
    add_rollout_arguments(parser)
    args = parser.parse_args(argv)
    from convenv.personachat import load_personas

    personas = load_personas("test")[: args.limit] if args.limit else None
    env = env_from_arguments(args, "test", personas)
    policies = make_policies(args.policies, env, args.seed)
    results = benchmark(env, policies, args.repeats, args.seed, args.n_envs, args.progress)
    write_outputs(results, Path(args.out))
    print(markdown_table(results))
    print(
        f"\n{results[0].episodes} episodes per policy; wrote {args.out}/results.csv, "
        f"curves.csv, results.json, curves.png"
    )
    return 0
