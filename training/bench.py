"""``convenv bench``: any task's benchmark on held-out test personas.

Every policy plays every test persona the same number of times with the same seeds,
so policies are compared on the same episodes (paired). Intervals resample
personas, not episodes. The task decides what is reported (identification:
convogym's ranking metrics; authentication: ROC-AUC, equal error rate and accuracy
at a threshold calibrated on train personas). Each policy's difference from the best
fixed sequence (searched on train personas) comes with its own paired interval, and
the share of the gap to each cheating reference it closes. A task option given
several values (``--impostor random overlap swap``) runs one benchmark per value.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from convenv.arguments import positive, sweep_values
from convenv.cli import plain
from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError
from convenv.metrics import METRIC_NAMES
from convenv.policies.base import ActionPolicy
from convenv.policies.registry import PolicyContext, check_specs, is_cheating, make_policies
from convenv.records import EpisodeRecord
from convenv.rollout import run_episodes
from convenv.run_manifest import write_run_manifest
from convenv.splits import validation_personas
from convenv.statistics import clustered_bootstrap, difference_of
from convenv.tasks import Task, task_class
from convenv.training.rollout_arguments import (
    add_rollout_arguments,
    env_from_config,
    ray_runner,
    rollout_config,
)

REFERENCE = "best-fixed"
Interval = tuple[float, float, float]


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
    headline: str = "auc"
    lower_is_better: tuple[str, ...] = ()
    # policy → what the report fitted on its validation episodes (a threshold)
    calibration: dict[str, dict[str, float]] = field(default_factory=dict)
    # policy → bound → share of the gap from the reference to the bound it closes
    # (headline metric, persona-clustered interval)
    gaps: dict[str, dict[str, Interval]] = field(default_factory=dict)
    records: dict[str, list[EpisodeRecord]] = field(default_factory=dict, repr=False)
    # The task's best heuristic, and each other policy's paired difference from it.
    heuristic: str | None = None
    heuristic_differences: dict[str, dict[str, Interval]] = field(default_factory=dict)


def play(
    env: PersonaInterviewEnv,
    policy: ActionPolicy,
    seeds: Sequence[int],
    options: Sequence[dict] | None,
    batch_size: int,
    progress: bool,
) -> list[EpisodeRecord]:
    """Every seed's episode under ``policy``, in seed order."""
    records = run_episodes(env, policy, seeds, options, batch_size, progress)
    order = {s: i for i, s in enumerate(seeds)}
    return sorted(records, key=lambda r: order[r.seed])


def summarize(
    task: Task,
    label: str,
    runs: dict[str, list[EpisodeRecord]],
    clusters: np.ndarray,
    calibration: dict[str, dict[str, float]] | None = None,
    seed: int = 0,
    resamples: int = 2000,
    bounds: Sequence[str] = (),
    progress: bool = False,
) -> BenchResult:
    """Metrics, paired differences from the best fixed sequence, the share of the gap
    to each of ``bounds`` (cheating references among ``runs``) closed, and curves."""
    calibration = calibration or {}
    names = list(runs)
    turns = len(next(iter(runs.values()))[0].metrics)
    stats = {n: task.statistics(runs[n], turns, calibration.get(n)) for n in names}
    reference = REFERENCE if REFERENCE in runs else None
    headline = task.headline
    others = [n for n in names if n != reference] if reference is not None else []
    heuristic = task.best_heuristic if task.best_heuristic in runs else None
    rivals = [n for n in names if heuristic and n not in (heuristic, reference, *bounds)]
    jobs = (
        sum(len(s) for s in stats.values())
        + sum(len(set(stats[n]) & set(stats[reference])) for n in others)
        + sum(len(set(stats[n]) & set(stats[heuristic])) for n in rivals)
        + sum(len([b for b in bounds if b in stats]) for n in others if n not in bounds)
        + len(names) * turns
    )
    bar = tqdm(total=jobs, desc=f"intervals ({label})", disable=not progress)

    def interval(statistic, count: int = resamples) -> Interval:
        bar.update(1)
        return clustered_bootstrap(statistic, clusters, count, seed=seed)

    rows = {n: {m: interval(f) for m, f in stats[n].items()} for n in names}
    differences: dict[str, dict[str, Interval]] = {}
    gaps: dict[str, dict[str, Interval]] = {}
    if reference is not None:
        for n in names:
            if n == reference:
                continue
            shared = [m for m in stats[n] if m in stats[reference]]
            differences[n] = {
                m: interval(difference_of(stats[n][m], stats[reference][m])) for m in shared
            }
            if n in bounds:
                continue
            mine, base = stats[n][headline], stats[reference][headline]
            with np.errstate(invalid="ignore"):  # resamples without a gap give ±inf
                row = {
                    b: interval(_gap_share(mine, base, stats[b][headline]))
                    for b in bounds
                    if b in stats
                }
            if row:
                gaps[n] = row
    heuristic_differences = {
        n: {m: interval(difference_of(stats[n][m], stats[heuristic][m]))
            for m in stats[n] if m in stats[heuristic]}
        for n in rivals
    }  # fmt: skip
    curves = {
        n: [
            interval(task.statistics(runs[n], t)[headline], resamples // 4)
            for t in range(1, turns + 1)
        ]
        for n in names
    }
    bar.close()
    return BenchResult(
        task=task.name,
        label=label,
        metrics=tuple(task.report_metrics),
        rows=rows,
        differences=differences,
        reference=reference,
        curves=curves,
        episodes=len(clusters),
        personas=len(np.unique(clusters)),
        headline=headline,
        lower_is_better=tuple(sorted(task.lower_is_better)),
        calibration=dict(calibration),
        gaps=gaps,
        records=runs,
        heuristic=heuristic,
        heuristic_differences=heuristic_differences,
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
    policies: Sequence[ActionPolicy],
    repeats: int = 1,
    seed: int = 0,
    batch_size: int = 16,
    progress: bool = True,
    calibration_env: PersonaInterviewEnv | None = None,
    label: str | None = None,
    runner=None,
    calibration_episodes: int | None = None,
) -> BenchResult:
    """Run each policy on every persona of ``env`` ``repeats`` times with fixed seeds.

    Where the task's report needs a calibration (authentication's threshold), it is
    fitted per policy on ``calibration_env`` (train personas; default: the validation
    slice of the train personas). A ``runner``
    (:class:`~convenv.training.ray_rollout.RayEpisodeRunner`) plays the episodes on
    Ray workers instead of in this process, with the same results.
    ``calibration_episodes`` overrides the task's count (0: no calibration).
    """
    played = play if runner is None else runner.play
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise InvalidArgumentError(f"repeats={repeats!r}; pass a positive integer.")
    task = env.task
    n = len(env.personas)
    seeds = [seed * 1_000_003 + k for k in range(n * repeats)]
    options = [{"persona_index": k % n} for k in range(n * repeats)]
    clusters = np.arange(n * repeats) % n
    runs: dict[str, list[EpisodeRecord]] = {}
    calibration: dict[str, dict[str, float]] = {}
    fits = task.calibration_episodes if calibration_episodes is None else calibration_episodes
    if fits and calibration_env is None:
        calibration_env = env.with_personas("train", validation_personas())
    for policy in policies:
        if policy.name in runs:
            raise InvalidArgumentError(f"policy {policy.name!r} is listed twice; list it once.")
        runs[policy.name] = played(env, policy, seeds, options, batch_size, progress)
        if fits:
            calibration_seeds = [seed * 1_000_003 + 500_000 + k for k in range(fits)]
            fitted = played(calibration_env, policy, calibration_seeds, None, batch_size, progress)
            calibration[policy.name] = task.calibrate(fitted)
    bounds = [p.name for p in policies if is_cheating(p)]
    return summarize(
        task, label or task.name, runs, clusters, calibration, seed, bounds=bounds,
        progress=progress,
    )  # fmt: skip


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
        cells = [_cell(row[m]) if m in row else "—" for m in result.metrics]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lower = ", ".join(result.lower_is_better)
    note = f"except {lower}, where < 0 is better)" if lower else ")"
    references = (
        (result.reference, result.differences, ""),
        (result.heuristic, result.heuristic_differences, ", the best heuristic"),
    )
    for reference, table, what in references:
        if not table:
            continue
        lines += [
            "",
            f"Paired difference from {reference}{what} (same episodes; > 0 is better {note}",
            "",
            "| policy | " + " | ".join(result.metrics) + " |",
            "|---" * (len(result.metrics) + 1) + "|",
        ]
        for name, row in table.items():
            cells = [_cell(row[m]) if m in row else "—" for m in result.metrics]
            lines.append(f"| {name} − {reference} | " + " | ".join(cells) + " |")
    if result.gaps:
        bounds = list(dict.fromkeys(b for row in result.gaps.values() for b in row))
        lines += [
            "",
            f"Share of the gap from {result.reference} to each cheating reference closed "
            f"({result.headline}; 1: as good as the reference, < 0: below {result.reference})",
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
    summary = [{k: v for k, v in asdict(r).items() if k != "records"} for r in results]
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
            for against, table in ((r.reference, r.differences),
                                   (r.heuristic, r.heuristic_differences)):  # fmt: skip
                for name, row in table.items():
                    for metric, (value, low, high) in row.items():
                        writer.writerow([r.label, name, against, metric, value, low, high])
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
        for name, curve in r.curves.items():
            values = np.array(curve)
            turns = np.arange(1, len(values) + 1)
            style = "--" if name.endswith("(cheats)") else "-"
            axis.plot(turns, values[:, 0], style, color=colours[name], label=name)
            axis.fill_between(turns, values[:, 1], values[:, 2], color=colours[name], alpha=0.15)
        axis.set_title(r.label, fontsize=10)
        axis.set_xlabel("questions asked")
        axis.set_ylabel(r.headline)
        axis.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=8)
    figure.suptitle("Held-out test personas (bands: 95% intervals over personas)")
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    figure.savefig(path, dpi=120)
    plt.close(figure)


def variant_label(task: str, options: dict) -> tuple[str, str]:
    """A benchmark's title and the tag of its cached baseline, from its swept options."""
    if not options:
        return task, ""
    shown = ", ".join(f"{k}={v}" for k, v in options.items())
    return f"{task}, {shown}", "_".join(f"{k}-{v}" for k, v in options.items())


def run_bench(
    args: argparse.Namespace,
    personas: Sequence[Sequence[str]] | None,
    on_result=None,
) -> list[BenchResult]:
    """Every benchmark the arguments ask for (one per combination of swept task
    options); ``on_result(result)`` is called as each one is done."""
    task_name = args.task
    specs = args.policies or list(task_class(task_name).default_policies)
    results = []
    out = Path(args.out)
    for options in sweep_values(args, task_name):
        config = rollout_config(args, "test", personas, options)
        env = env_from_config(config, args.threads)
        label, tag = variant_label(task_name, options)
        context = PolicyContext(env, args.seed, out, tag, args.search_episodes, args.progress)
        policies = make_policies(specs, context)
        runner = ray_runner(args, config)
        try:
            result = benchmark(
                env, policies, args.repeats, args.seed, args.n_envs, args.progress,
                label=label, runner=runner,
                calibration_episodes=getattr(args, "calibration_episodes", None),
            )  # fmt: skip
        finally:
            if runner is not None:
                runner.close()
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the benchmark itself (main reuses them)."""
    from convenv.policies.registry import policy_lines

    parser.add_argument(
        "--policies",
        nargs="+",
        default=None,
        metavar="POLICY",
        help="the policies to compare (unset: the task's baselines). " + "; ".join(policy_lines()),
    )
    add_episode_arguments(parser, repeats=1)
    parser.add_argument("--out", default="runs/bench", help="output directory")


def add_episode_arguments(parser: argparse.ArgumentParser, repeats: int) -> None:
    """How many episodes a benchmark plays, searches and calibrates on (report too)."""
    parser.add_argument(
        "--repeats", type=positive("--repeats"), default=repeats, help="episodes per test persona"
    )
    parser.add_argument(
        "--limit",
        type=positive("--limit"),
        default=None,
        help="use only the first N test personas (unset: all 118)",
    )
    parser.add_argument(
        "--search-episodes",
        type=positive("--search-episodes"),
        default=256,
        help="train-persona episodes per candidate code in the best-fixed search",
    )
    parser.add_argument(
        "--calibration-episodes",
        type=int,
        default=None,
        help="train-persona episodes per policy that fit the report's threshold "
        "(unset: the task's own; 0: none)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convenv bench",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_bench_arguments(parser)
    add_rollout_arguments(parser, sweep=True)
    args = parser.parse_args(argv)
    from convenv.personachat import load_personas

    check_specs(args.policies or [], task_class(args.task))
    sweep_values(args, args.task)  # refuses another task's options now
    started = time.time()
    personas = load_personas("test")[: args.limit] if args.limit else None

    def show(result: BenchResult) -> None:
        print(markdown_table(result) + "\n", flush=True)

    results = run_bench(args, personas, on_result=show)
    write_outputs(results, Path(args.out))
    write_run_manifest(args.out, "bench", vars(args), started,
                       seeds=[args.seed * 1_000_003 + k for k in (0, 1)])  # fmt: skip
    print(f"wrote {args.out}/results.md, results.json, episodes.csv, differences.csv, curves.png")
    return 0
