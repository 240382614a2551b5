"""``convenv bench``: identification or authentication on held-out test personas.

Every policy plays every test persona the same number of times with the same seeds,
so policies are compared on the same episodes (paired). Intervals resample
personas, not episodes. Identification reports convogym's ranking metrics;
authentication reports ROC-AUC, equal error rate and accuracy at a threshold
calibrated on train personas. Each policy's difference from the best fixed sequence
(searched on train personas) comes with its own paired interval.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from convenv.authentication import IMPOSTOR_KINDS, MIXED_KINDS, TASKS
from convenv.authentication_metrics import (
    accuracy_at,
    calibrate_threshold,
    equal_error_rate,
    roc_auc,
)
from convenv.cli import plain
from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError
from convenv.metrics import METRIC_NAMES
from convenv.policies.ablation import DialogMeanPolicy, ObservationRecorder
from convenv.policies.base import ActionPolicy
from convenv.run_manifest import write_run_manifest
from convenv.statistics import clustered_bootstrap, difference_of, mean_of
from convenv.training.fixed_search import FixedSequence, search_fixed_sequence
from convenv.training.lookahead import heldout_per_claim_episodes, lookahead_episodes
from convenv.training.policy_specs import LookaheadBound, check_specs, make_policies
from convenv.training.rollout import EpisodeRecord, episode_design, run_episodes
from convenv.training.rollout_arguments import (
    add_rollout_arguments,
    env_from_arguments,
    ray_runner,
)
from convenv.training.splits import training_personas, validation_personas
from convenv.training.turn_objective import support_at

DEFAULT_POLICIES = {
    "identification": ["random", "round-robin", "best-fixed", "oracle"],
    "authentication": [
        "random",
        "round-robin",
        "best-fixed",
        "claim",
        "claim-adaptive",
        "lookahead",
    ],
}
REFERENCE = "best-fixed"
# Headline metric per task: the one the per-turn curves show.
HEADLINE = {"identification": "auc", "authentication": "roc_auc"}
AUTH_METRICS = ("roc_auc", "eer", "accuracy")

Interval = tuple[float, float, float]
Policy = ActionPolicy | LookaheadBound


@dataclass
class BenchResult:
    """One benchmark (a task on one env): per policy, metrics with persona-clustered
    intervals, paired differences from the reference policy, and per-turn curves."""

    task: str
    label: str
    metrics: tuple[str, ...]
    rows: dict[str, dict[str, Interval]]
    differences: dict[str, dict[str, Interval]]
    reference: str | None
    curves: dict[str, list[Interval]]
    episodes: int
    personas: int
    thresholds: dict[str, float] = field(default_factory=dict)
    # policy → bound → share of the gap from the reference to the bound it closes
    # (headline metric, persona-clustered interval)
    gaps: dict[str, dict[str, Interval]] = field(default_factory=dict)
    records: dict[str, list[EpisodeRecord]] = field(default_factory=dict, repr=False)


def play(
    env: PersonaInterviewEnv,
    policy: Policy,
    seeds: Sequence[int],
    options: Sequence[dict] | None,
    batch_size: int,
    progress: bool,
) -> list[EpisodeRecord]:
    """Every seed's episode under ``policy``, in seed order."""
    if isinstance(policy, LookaheadBound) and policy.heldout:
        records = heldout_per_claim_episodes(
            env, seeds, options, max(batch_size, 64), progress, policy.draws
        )
    elif isinstance(policy, LookaheadBound):
        records = lookahead_episodes(
            env, seeds, options, max(batch_size, 64), progress, policy.draws, policy.per_claim
        )
    else:
        records = run_episodes(env, policy, seeds, options, batch_size, progress)
    order = {s: i for i, s in enumerate(seeds)}
    return sorted(records, key=lambda r: order[r.seed])


def _statistics(task: str, records: list[EpisodeRecord], turn: int, threshold: float | None):
    """Per metric, a function of episode indices (for the clustered bootstrap)."""
    if task == "identification":
        return {m: mean_of([r.metrics[turn - 1][m] for r in records]) for m in METRIC_NAMES}
    support = support_at(records, turn)
    genuine = np.array([bool(r.genuine) for r in records])
    stats: dict[str, Callable[[np.ndarray], float]] = {
        "roc_auc": lambda idx: roc_auc(support[idx], genuine[idx]),
        "eer": lambda idx: equal_error_rate(support[idx], genuine[idx]),
    }
    if threshold is not None:
        stats["accuracy"] = lambda idx: accuracy_at(support[idx], genuine[idx], threshold)
    return stats


def summarize(
    task: str,
    label: str,
    runs: dict[str, list[EpisodeRecord]],
    clusters: np.ndarray,
    thresholds: dict[str, float] | None = None,
    seed: int = 0,
    resamples: int = 2000,
    bounds: Sequence[str] = (),
) -> BenchResult:
    """Metrics, paired differences from the best fixed sequence, the share of the gap
    to each of ``bounds`` (upper-bound policies among ``runs``) closed, and curves."""
    thresholds = thresholds or {}
    names = list(runs)
    turns = len(next(iter(runs.values()))[0].metrics)
    metrics = METRIC_NAMES if task == "identification" else AUTH_METRICS
    stats = {n: _statistics(task, runs[n], turns, thresholds.get(n)) for n in names}
    rows = {
        n: {m: clustered_bootstrap(f, clusters, resamples, seed=seed) for m, f in stats[n].items()}
        for n in names
    }
    reference = REFERENCE if REFERENCE in runs else None
    differences = {}
    if reference is not None:
        for n in names:
            if n == reference:
                continue
            shared = [m for m in stats[n] if m in stats[reference]]
            differences[n] = {
                m: clustered_bootstrap(
                    difference_of(stats[n][m], stats[reference][m]), clusters, resamples, seed=seed
                )
                for m in shared
            }
    headline = HEADLINE[task]
    gaps: dict[str, dict[str, Interval]] = {}
    if reference is not None:
        for n in names:
            if n == reference or n in bounds:
                continue
            mine, base = stats[n][headline], stats[reference][headline]
            with np.errstate(invalid="ignore"):  # resamples without a gap give ±inf
                gaps[n] = {
                    b: clustered_bootstrap(
                        _gap_share(mine, base, stats[b][headline]), clusters, resamples, seed=seed
                    )
                    for b in bounds
                    if b in stats
                }
    curves = {
        n: [
            clustered_bootstrap(
                _statistics(task, runs[n], t, None)[headline], clusters, resamples // 4, seed=seed
            )
            for t in range(1, turns + 1)
        ]
        for n in names
    }
    return BenchResult(
        task=task,
        label=label,
        metrics=tuple(metrics),
        rows=rows,
        differences=differences,
        reference=reference,
        curves=curves,
        episodes=len(clusters),
        personas=len(np.unique(clusters)),
        thresholds=dict(thresholds),
        gaps={n: row for n, row in gaps.items() if row},
        records=runs,
    )


def _gap_share(policy, reference, bound):
    """A statistic: ``(policy − reference) / (bound − reference)`` on the same episodes;
    where the bound is not above the reference, ±inf by the sign of the numerator (the
    limit as the gap shrinks to 0), so resamples without a gap widen the interval
    instead of voiding it."""

    def share(idx: np.ndarray) -> float:
        gained, gap = policy(idx) - reference(idx), bound(idx) - reference(idx)
        if gap > 0:
            return gained / gap
        return float(np.sign(gained)) * float("inf") if gained else 0.0

    return share


def _gap_cell(value: Interval, reference: str) -> str:
    return _cell(value) if np.isfinite(value[0]) else f"no gap (bound ≤ {reference})"


def benchmark(
    env: PersonaInterviewEnv,
    policies: Sequence[Policy],
    repeats: int = 1,
    seed: int = 0,
    batch_size: int = 16,
    progress: bool = True,
    calibration_env: PersonaInterviewEnv | None = None,
    calibration_episodes: int = 256,
    label: str | None = None,
    runner=None,
) -> BenchResult:
    """Run each policy on every persona of ``env`` ``repeats`` times with fixed seeds.

    Authentication thresholds are calibrated per policy on ``calibration_env``
    (train personas; default: the validation slice of the train personas). A
    ``runner`` (:class:`~convenv.training.ray_rollout.RayEpisodeRunner`) plays the
    episodes on Ray workers instead of in this process, with the same results.
    """
    played = play if runner is None else runner.play
    if not isinstance(repeats, int) or repeats < 1:
        raise InvalidArgumentError(f"repeats={repeats!r}; pass a positive integer.")
    task = env.engine.task
    n = len(env.personas)
    seeds = [seed * 1_000_003 + k for k in range(n * repeats)]
    options = [{"persona_index": k % n} for k in range(n * repeats)]
    clusters = np.arange(n * repeats) % n
    runs: dict[str, list[EpisodeRecord]] = {}
    thresholds: dict[str, float] = {}
    if task == "authentication" and calibration_env is None:
        calibration_env = env.with_personas("train", validation_personas())
    for policy in policies:
        if policy.name in runs:
            raise InvalidArgumentError(f"policy {policy.name!r} is listed twice; list it once.")
        runs[policy.name] = played(env, policy, seeds, options, batch_size, progress)
        if task == "authentication":
            calibration_seeds = [
                seed * 1_000_003 + 500_000 + k for k in range(calibration_episodes)
            ]
            calibration = played(
                calibration_env, policy, calibration_seeds, None, batch_size, False
            )
            turns = env.engine.max_turns
            thresholds[policy.name] = calibrate_threshold(
                support_at(calibration, turns), [bool(r.genuine) for r in calibration]
            )
    bounds = [p.name for p in policies if isinstance(p, LookaheadBound)]
    return summarize(task, label or task, runs, clusters, thresholds, seed, bounds=bounds)


def _cell(value: Interval) -> str:
    return f"{value[0]:.3f} [{value[1]:.3f}, {value[2]:.3f}]"


def markdown_table(result: BenchResult) -> str:
    """Final-turn metrics, ``value [low, high]``, then the paired differences."""
    lines = [
        f"### {result.label}: {result.episodes} episodes, {result.personas} personas "
        "(95% intervals resample personas)",
        "",
        "| policy | " + " | ".join(result.metrics) + " |",
        "|---" * (len(result.metrics) + 1) + "|",
    ]
    for name, row in result.rows.items():
        lines.append(f"| {name} | " + " | ".join(_cell(row[m]) for m in result.metrics) + " |")
    if result.differences:
        lines += [
            "",
            f"Paired difference from {result.reference} (same episodes; > 0 is better "
            + ("except EER, where < 0 is better)" if result.task == "authentication" else ")"),
            "",
            "| policy | " + " | ".join(result.metrics) + " |",
            "|---" * (len(result.metrics) + 1) + "|",
        ]
        for name, row in result.differences.items():
            cells = [_cell(row[m]) if m in row else "—" for m in result.metrics]
            lines.append(f"| {name} − {result.reference} | " + " | ".join(cells) + " |")
    if result.gaps:
        bounds = list(dict.fromkeys(b for row in result.gaps.values() for b in row))
        lines += [
            "",
            f"Share of the gap from {result.reference} to each bound closed "
            f"({HEADLINE[result.task]}; 1: as good as the bound, < 0: below {result.reference})",
            "",
            "| policy | " + " | ".join(bounds) + " |",
            "|---" * (len(bounds) + 1) + "|",
        ]
        for name, row in result.gaps.items():
            cells = [_gap_cell(row[b], result.reference) if b in row else "—" for b in bounds]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_outputs(results: Sequence[BenchResult], out: Path) -> None:
    """``results.md``, ``results.json``, ``episodes.csv`` (one row per episode and
    policy), ``differences.csv`` and ``curves.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text("\n\n".join(markdown_table(r) for r in results) + "\n")
    summary = [
        {k: v for k, v in asdict(r).items() if k != "records"} for r in results
    ]  # episodes go to the CSV
    (out / "results.json").write_text(json.dumps(summary, indent=2))
    with (out / "episodes.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "benchmark",
                "policy",
                "seed",
                "persona",
                "genuine",
                "actions",
                "return",
                *METRIC_NAMES,
            ]
        )
        for r in results:
            for name, records in r.records.items():
                for k, record in enumerate(records):
                    writer.writerow(
                        [
                            r.label,
                            name,
                            record.seed,
                            k % r.personas,
                            record.genuine,
                            " ".join(map(str, record.actions)),
                            f"{sum(record.rewards):.6f}",
                            *(f"{record.metrics[-1][m]:.6f}" for m in METRIC_NAMES),
                        ]
                    )
    with (out / "differences.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["benchmark", "policy", "reference", "metric", "diff", "ci_low", "ci_high"])
        for r in results:
            for name, row in r.differences.items():
                for metric, (value, low, high) in row.items():
                    writer.writerow([r.label, name, r.reference, metric, value, low, high])
    plot_curves(results, out / "curves.png")


def plot_curves(results: Sequence[BenchResult], path: Path) -> None:
    """The headline metric after each turn, one panel per benchmark, with intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4.2), squeeze=False)
    names = list(dict.fromkeys(n for r in results for n in r.curves))
    colours = {n: plt.get_cmap("tab10")(i % 10) for i, n in enumerate(names)}
    for axis, r in zip(axes[0], results, strict=True):
        metric = HEADLINE[r.task]
        for name, curve in r.curves.items():
            values = np.array(curve)
            turns = np.arange(1, len(values) + 1)
            style = "--" if "cheats" in name or name in ("oracle",) else "-"
            axis.plot(turns, values[:, 0], style, color=colours[name], label=name)
            axis.fill_between(turns, values[:, 1], values[:, 2], color=colours[name], alpha=0.15)
        axis.set_title(r.label, fontsize=10)
        axis.set_xlabel("questions asked")
        axis.set_ylabel(
            "ROC-AUC, genuine vs impostor" if metric == "roc_auc" else "identification AUC"
        )
        axis.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=8)
    figure.suptitle("Held-out test personas (bands: 95% intervals over personas)")
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    figure.savefig(path, dpi=120)
    plt.close(figure)


def best_fixed_maker(
    env: PersonaInterviewEnv,
    cache: Path,
    episodes: int = 256,
    batch_size: int = 64,
    progress: bool = True,
) -> Callable[[str | None], ActionPolicy]:
    """Makes the best-fixed policy: loads ``path`` (or ``cache`` when it was searched
    for the same settings), else searches on train personas and saves to ``cache``."""

    def make(path: str | None) -> ActionPolicy:
        n = len(env.actions)
        if path is not None:
            return FixedSequence.load(path).policy(n)
        if cache.exists():
            found = FixedSequence.load(cache)
            if found.settings == episode_design(env) and found.episodes == episodes:
                return found.policy(n)
        search_env = env.with_personas("train", training_personas())
        found = search_fixed_sequence(
            search_env, episodes, batch_size=batch_size, progress=progress
        )
        found.save(cache)
        return found.policy(n)

    return make


def ablation_maker(
    env: PersonaInterviewEnv, episodes: int = 256, batch_size: int = 16
) -> Callable[[ActionPolicy], ActionPolicy]:
    """Wraps a policy with its dialog features held at per-turn means measured on its
    own play on validation (train) personas."""

    def make(policy: ActionPolicy) -> ActionPolicy:
        calibration = env.with_personas("train", validation_personas())
        recorder = ObservationRecorder(policy, env.engine.dialog_slice(), env.engine.max_turns)
        seeds = list(range(900_000, 900_000 + episodes))
        list(run_episodes(calibration, recorder, seeds, None, batch_size, progress=False))
        return DialogMeanPolicy(
            policy,
            env.engine.dialog_slice(),
            recorder.means(),
            env.engine.max_turns,
            name=f"{policy.name} (dialog held at mean)",
        )

    return make


def run_bench(
    args: argparse.Namespace, personas: Sequence[Sequence[str]] | None
) -> list[BenchResult]:
    """Every benchmark the arguments ask for (one per impostor kind in authentication)."""
    kinds = args.impostor if args.task == "authentication" else [None]
    specs = args.policies or DEFAULT_POLICIES[args.task]
    results = []
    out = Path(args.out)
    for kind in kinds:
        env = env_from_arguments(args, "test", personas, task=args.task, impostor=kind or "random")
        label = args.task if kind is None else f"authentication, impostor={kind}"
        cache = out / ("best_fixed.json" if kind is None else f"best_fixed_{kind}.json")
        policies = make_policies(
            specs,
            env,
            args.seed,
            best_fixed=best_fixed_maker(env, cache, args.search_episodes, progress=args.progress),
            ablation=ablation_maker(env),
        )
        runner = ray_runner(args, "test", personas, task=args.task, impostor=kind or "random")
        try:
            results.append(
                benchmark(
                    env,
                    policies,
                    args.repeats,
                    args.seed,
                    args.n_envs,
                    args.progress,
                    label=label,
                    runner=runner,
                )
            )
        finally:
            if runner is not None:
                runner.close()
    return results


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the benchmark itself (main reuses them)."""
    parser.add_argument("--task", choices=TASKS, default="identification")
    parser.add_argument(
        "--impostor",
        nargs="+",
        choices=IMPOSTOR_KINDS,
        default=list(MIXED_KINDS),
        help="authentication: impostor kinds, one benchmark each",
    )
    parser.add_argument(
        "--search-episodes",
        type=int,
        default=256,
        help="train-persona episodes per candidate code in the best-fixed search",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convenv bench",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--policies",
        nargs="+",
        default=None,
        help="random, round-robin, oracle, claim, fixed:K, fixed:all, best-fixed[:PATH], "
        "lookahead, lookahead-expected, lookahead-per-claim, per-claim-heldout, saved SB3 "
        "model paths, ablate:MODEL "
        "(default: the task's baselines)",
    )
    parser.add_argument("--repeats", type=int, default=1, help="episodes per test persona")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N personas")
    parser.add_argument("--out", default="runs/bench", help="output directory")
    add_bench_arguments(parser)
    add_rollout_arguments(parser)
    args = parser.parse_args(argv)
    from convenv.personachat import load_personas

    check_specs(args.policies or [])
    started = time.time()
    personas = load_personas("test")[: args.limit] if args.limit else None
    results = run_bench(args, personas)
    write_outputs(results, Path(args.out))
    write_run_manifest(args.out, "bench", vars(args), started,
                       seeds=[args.seed * 1_000_003 + k for k in (0, 1)])  # fmt: skip
    for result in results:
        print(markdown_table(result) + "\n")
    print(f"wrote {args.out}/results.md, results.json, episodes.csv, differences.csv, curves.png")
    return 0
