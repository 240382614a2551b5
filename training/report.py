"""``convenv report``: how consistent one persona model is, beside people, and whether
learning can pay against it.

The partner named by ``--partner`` (with ``--model``, ``--base-url`` ...) is the
model under test. The report runs, on held-out personas:

1. **Authentication** against random, overlap and swap impostors, with the best
   fixed sequence (searched on train personas), the ``claim`` heuristic and the
   knows-the-truth lookahead: ROC-AUC and EER with persona-clustered intervals,
   paired differences from the best fixed sequence, and the per-turn curve.
2. **Headroom**: lookahead − best fixed (what any interviewer could gain at most),
   claim − best fixed, and the state-signal check (does a model fitted on train
   personas pick a better next code from the observation than a per-turn constant
   does on test personas? see :mod:`convenv.training.headroom`).
3. **Replay in people's place** on ConvAI2 validation dialogs (``convenv fidelity``):
   reveal rate, asked-about fact stated, contradictions, repeats, identification
   figures, each beside the people's figure on the same dialogs.

``--parts`` runs some of them (a generative partner at one env step a second can
start with ``signal replay``: whether learning could pay at all, and how it talks).
Writes ``report.md``, ``report.json``, ``curves.png`` and ``fidelity.png`` (and each
part's own outputs in a subfolder) with a run manifest.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from convenv.arguments import add_speaker_arguments, positive
from convenv.cli import plain
from convenv.run_manifest import write_run_manifest

SPEAKER_OPTIONS = (
    "partner", "identifier", "model", "base_url", "api_key_env", "device", "precision",
)  # fmt: skip
IMPOSTORS = ("random", "overlap", "swap")
POLICIES = ("best-fixed", "claim", "lookahead")
# The parts, in the order they run; the report shows the signal check before the replay.
PARTS = ("bench", "replay", "signal")
PART_TITLES = {
    "bench": "authentication on test personas",
    "replay": "replay in people's place",
    "signal": "signal check",
}
SECTION_ORDER = ("bench", "signal", "replay")


def speaker_argv(args: argparse.Namespace) -> list[str]:
    """The speaker options as command-line flags for the parts' own commands."""
    argv: list[str] = []
    for name in SPEAKER_OPTIONS:
        value = getattr(args, name, None)
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    return argv


def headroom_rows(results: list[dict]) -> list[str]:
    """One table row per impostor kind: claim and lookahead minus best fixed (AUC)."""
    lines = [
        "| impostors | claim − best fixed (AUC) | lookahead (cheats) − best fixed (AUC) |",
        "|---|---|---|",
    ]
    for result in results:
        cells = []
        for prefix in ("claim", "lookahead"):
            name = next((n for n in result["differences"] if n.split()[0] == prefix), None)
            value = result["differences"].get(name, {}).get(result["headline"]) if name else None
            cells.append(f"{value[0]:+.3f} [{value[1]:+.3f}, {value[2]:+.3f}]" if value else "–")
        lines.append(f"| {result['label']} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convenv report",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_speaker_arguments(parser, only=SPEAKER_OPTIONS)
    from convenv.training.bench import add_episode_arguments

    add_episode_arguments(parser, repeats=4)
    parser.add_argument(
        "--dialogs",
        type=positive("--dialogs"),
        default=200,
        help="validation dialogs replayed in people's place",
    )
    parser.add_argument(
        "--probe-episodes",
        type=positive("--probe-episodes"),
        default=64,
        help="random-code episodes per split forked at every state (the signal check)",
    )
    parser.add_argument(
        "--max-turns", type=positive("--max-turns"), default=8, help="questions per episode"
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds episodes and policies")
    parser.add_argument("--n-envs", type=positive("--n-envs"), default=16, help="envs at once")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: free)")
    parser.add_argument("--out", default="runs/report", help="output directory")
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bars"
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        help="what to run: bench (authentication on test personas and its headroom table), replay "
        "(in people's place), signal (the state-signal check); a slow generative partner "
        "can start with signal and replay",
    )
    args = parser.parse_args(argv)
    from convenv.tasks import task_class

    # One partner for every part: the authentication task's own where unset.
    task = task_class("authentication")
    args.partner = args.partner or task.default_partner
    args.identifier = args.identifier or task.default_identifier
    started = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    common = [*speaker_argv(args), "--seed", str(args.seed), "--threads", str(args.threads)]
    progress = [] if args.progress else ["--no-progress"]
    parts = [p for p in PARTS if p in args.parts]  # in their order, each once

    from convenv import fidelity_cli
    from convenv.training import bench
    from convenv.training.headroom import markdown, verdict

    bench_argv = [
        "--task", "authentication", "--impostor", *IMPOSTORS, "--policies", *POLICIES,
        "--repeats", str(args.repeats), "--search-episodes", str(args.search_episodes),
        "--n-envs", str(args.n_envs), "--max-turns", str(args.max_turns),
        "--out", str(out / "authentication"),
        *(["--limit", str(args.limit)] if args.limit else []),
        *([] if args.calibration_episodes is None
          else ["--calibration-episodes", str(args.calibration_episodes)]),
        *common, *progress,
    ]  # fmt: skip
    name = args.partner + (f" ({args.model})" if args.model else "")
    sections: dict[str, list[str]] = {}
    summary: dict = {"partner": name}
    for k, part in enumerate(parts, start=1):
        print(f"{k}/{len(parts)} {PART_TITLES[part]}", flush=True)
        if part == "bench":
            bench.main(bench_argv)
            results = json.loads((out / "authentication" / "results.json").read_text())
            summary["authentication"] = results
            sections[part] = [
                "## Authentication on held-out personas\n\n"
                "Best fixed sequence searched on train personas; intervals resample "
                "personas; differences are paired.\n\n"
                + (out / "authentication" / "results.md").read_text().strip()
                + "\n\n![per-turn AUC](authentication/curves.png)",
                "## Headroom: how much an interviewer could gain\n\n"
                + "\n".join(headroom_rows(results)),
            ]
        elif part == "replay":
            fidelity_cli.main(
                ["--limit", str(args.dialogs), "--out", str(out / "fidelity"), *common, *progress]
            )
            summary["fidelity"] = json.loads((out / "fidelity" / "fidelity.json").read_text())
            sections[part] = [
                "## Replayed in people's place (ConvAI2 validation dialogs)\n\n"
                + (out / "fidelity" / "fidelity.md").read_text().strip()
                + "\n\n![fidelity](fidelity/fidelity.png)"
            ]
        else:
            check, sizes = signal_check_for(args, bench_argv)
            summary.update(signal_check=check, verdict=verdict(check))
            sections[part] = [
                "## Does the observation tell which code pays next?\n\n" + markdown(check, *sizes)
            ]
    shown = [f"# Persona-consistency report: {name}"]
    shown += [text for part in SECTION_ORDER for text in sections.get(part, [])]
    (out / "report.md").write_text("\n\n".join(shown) + "\n")
    (out / "report.json").write_text(json.dumps(summary, indent=2))
    write_run_manifest(out, "report", vars(args), started)
    said = summary.get("verdict", "no signal check run (--parts)")
    print(f"{said}\nwrote {out}/report.md, report.json ({time.time() - started:.0f} s)")
    return 0


def signal_check_for(args: argparse.Namespace, bench_argv: list[str]):
    """The signal check on the env the benchmark played (mixed impostors)."""
    from convenv.training.bench import add_bench_arguments
    from convenv.training.headroom import probe_both, signal_check
    from convenv.training.rollout_arguments import (
        add_rollout_arguments,
        env_from_config,
        rollout_config,
    )

    parser = argparse.ArgumentParser()
    add_bench_arguments(parser)
    add_rollout_arguments(parser, sweep=True)
    bench_args = parser.parse_args(bench_argv)

    def make_env(split: str):
        config = rollout_config(bench_args, split, None, {"impostor": "mixed"})
        return env_from_config(config, args.threads)

    train, test = probe_both(make_env, args.probe_episodes, args.seed, args.n_envs, args.progress)
    check = signal_check(train, test, seed=args.seed)
    return check, (len(train.gains), len(test.gains))
