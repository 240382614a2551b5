"""Env steps/s of the partners, this checkout against a baseline revision, side by side.

Two worker processes, one per version of the code (the baseline's files are taken from
git and laid out as the wheel installs them), each build the same envs: 16 authentication
envs on train personas, one torch thread (``OMP_NUM_THREADS=1``), for each
configuration. After a warm-up (the caches a long run fills: ladders, neighbours,
shortlists), rounds alternate between the two versions, so a shared, noisy machine
loads both alike; the table gives min / median / max steps/s over the rounds and the
ratio of the medians.

    .venv/bin/python benchmarks/partner_speed.py --baseline 1178ff8
    .venv/bin/python benchmarks/partner_speed.py --baseline 1178ff8 \
        --configs "consistent + filtered" --warmup 240000   # a long run's steady state
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {
    "consistent + filtered": ("consistent", "filtered"),
    "retrieval + filtered": ("retrieval", "filtered"),
    "retrieval + zero-shot": ("retrieval", "zero-shot"),
}

WORKER = r"""
import json, os, sys, time
if os.environ.get("CONVENV_BASELINE"):
    # The checkout's editable install would fill in modules the baseline lacks with
    # this checkout's: the baseline worker imports its own tree alone.
    sys.meta_path = [f for f in sys.meta_path if "Editable" not in getattr(f, "__name__", "")]
import numpy as np
import importlib.util
try:
    from convenv.splits import training_personas
except ImportError:
    from convenv.training.splits import training_personas
# Before 0.2 (no convenv.speakers) the zero-shot identifier had no name: it was None.
NAMES_ZERO_SHOT = importlib.util.find_spec("convenv.speakers") is not None
from convenv.vec_env import BatchedDialogVecEnv

configs = json.loads(sys.argv[1])
warmup = int(sys.argv[2])
envs, warm_rates = {}, {}
for name, (partner, identifier) in configs.items():
    if identifier == "zero-shot" and not NAMES_ZERO_SHOT:
        identifier = None
    venv = BatchedDialogVecEnv(16, task="authentication", partner=partner,
                               identifier=identifier, personas=training_personas())
    venv.seed(0)
    venv.reset()
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for _ in range(warmup // 16):
        venv.step(rng.integers(0, 11, 16))
    warm_rates[name] = 16 * (warmup // 16) / max(time.perf_counter() - started, 1e-9)
    envs[name] = (venv, rng)
print("ready", json.dumps(warm_rates), flush=True)
for line in sys.stdin:
    name, steps = line.rsplit(" ", 1)
    venv, rng = envs[name]
    actions = [rng.integers(0, 11, 16) for _ in range(int(steps) // 16)]
    started = time.perf_counter()
    for a in actions:
        venv.step(a)
    print(json.dumps(16 * len(actions) / (time.perf_counter() - started)), flush=True)
"""


def baseline_tree(revision: str, into: Path) -> Path:
    """The baseline's package laid out as installed: convenv/ with agents/, policies/,
    training/ and data/ inside."""
    archive = into / "source.tar"
    with archive.open("wb") as handle:
        subprocess.run(["git", "archive", revision], cwd=REPO, stdout=handle, check=True)
    source = into / "source"
    with tarfile.open(archive) as tar:
        tar.extractall(source, filter="data")
    site = into / "site"
    shutil.copytree(source / "convenv", site / "convenv")
    for part in ("agents", "policies", "training", "data"):
        shutil.copytree(source / part, site / "convenv" / part)
    return site


def start(python_path: Path | None, configs: dict, warmup: int) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if python_path is not None:
        env["PYTHONPATH"] = str(python_path)
        env["CONVENV_BASELINE"] = "1"
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, json.dumps(configs), str(warmup)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),  # not the checkout: its convenv/ must not shadow the tree
    )
    return worker


def wait_ready(worker: subprocess.Popen) -> dict[str, float]:
    """The worker's warm-up rates (env steps/s over the whole warm-up, per config)."""
    line = worker.stdout.readline()
    if not line.startswith("ready "):
        raise SystemExit(f"a worker did not start ({line!r})")
    return json.loads(line.removeprefix("ready "))


def measure(worker: subprocess.Popen, name: str, steps: int) -> float:
    worker.stdin.write(f"{name} {steps}\n")
    worker.stdin.flush()
    return float(worker.stdout.readline())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="the git revision to compare with")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument("--steps", type=int, default=960, help="env steps per round and env")
    parser.add_argument("--warmup", type=int, default=4800, help="env steps before measuring")
    parser.add_argument(
        "--configs",
        nargs="+",
        default=list(CONFIGS),
        metavar="NAME",
        help=f"the configurations to measure (default: all of {', '.join(map(repr, CONFIGS))})",
    )
    args = parser.parse_args()
    unknown = [name for name in args.configs if name not in CONFIGS]
    if unknown:
        parser.error(f"--configs: unknown {unknown}; choose from {list(CONFIGS)}")
    configs = {name: CONFIGS[name] for name in args.configs}
    with tempfile.TemporaryDirectory() as scratch:
        site = baseline_tree(args.baseline, Path(scratch))
        workers = {
            f"baseline {args.baseline}": start(site, configs, args.warmup),
            "this checkout": start(None, configs, args.warmup),
        }
        # Both warm up at once, one core each: the warm-up's average rate is what a run
        # of that many steps sees from a cold start, first uses included.
        warm = {version: wait_ready(worker) for version, worker in workers.items()}
        speeds: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for name in configs:
                for version, worker in workers.items():
                    speeds.setdefault((name, version), []).append(measure(worker, name, args.steps))
        for worker in workers.values():
            worker.stdin.close()
            worker.wait()
    versions = list(workers)
    print(f"| env (16 envs, 1 thread, authentication) | {' | '.join(versions)} | ratio |")
    print("|---|---|---|---|")
    for name in configs:
        cells, medians = [], []
        for version in versions:
            values = speeds[(name, version)]
            medians.append(statistics.median(values))
            cells.append(f"{min(values):,.0f} / {medians[-1]:,.0f} / {max(values):,.0f}")
        print(f"| {name} | {' | '.join(cells)} | {medians[1] / medians[0]:.1f}× |")
    print("\nsteps/s, min / median / max over rounds; ratio: median over the baseline's median")
    if args.warmup >= 16:
        print(
            f"\n| env: average over the first {args.warmup:,} steps (cold start) | "
            f"{' | '.join(versions)} | ratio |"
        )
        print("|---|---|---|---|")
        for name in configs:
            rates = [warm[version][name] for version in versions]
            print(
                f"| {name} | {' | '.join(f'{r:,.0f}' for r in rates)} | "
                f"{rates[1] / rates[0]:.1f}× |"
            )


if __name__ == "__main__":
    main()
