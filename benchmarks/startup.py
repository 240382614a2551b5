"""Start-up: `gym.make` + `reset` of the default env with warm caches, an earlier
revision beside this checkout, in fresh processes, rounds alternating.

Each round starts one process per version that imports convenv, makes
``convenv/PersonaInterview-v*`` (the newest registered version) and resets it, and
reports the import of sentence-transformers alone (the floor) beside the whole. The
first round warms the disk caches of both and is not counted.

    .venv/bin/python benchmarks/startup.py --baseline b2337b7 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from partner_speed import baseline_tree

WORKER = r"""
import json, os, sys, time
if os.environ.get("CONVENV_BASELINE"):
    sys.meta_path = [f for f in sys.meta_path if "Editable" not in getattr(f, "__name__", "")]
started = time.perf_counter()
import sentence_transformers  # noqa: F401  (what every start pays first)
floor = time.perf_counter() - started
import gymnasium as gym
import convenv  # noqa: F401  (registers the env ids)
newest = max(
    (name for name in gym.registry if name.startswith("convenv/PersonaInterview-v")),
    key=lambda name: int(name.rsplit("-v", 1)[1]),
)
env = gym.make(newest)
env.reset(seed=0)
print(json.dumps({"floor": floor, "total": time.perf_counter() - started, "id": newest}))
"""


def run(python_path: Path | None) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if python_path is not None:
        env["PYTHONPATH"] = str(python_path)
        env["CONVENV_BASELINE"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", WORKER],
        env=env,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),  # not the checkout: its convenv/ must not shadow the tree
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"a start-up failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="the git revision to compare with")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (after a warm one)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds={args.rounds}; pass at least 1.")
    with tempfile.TemporaryDirectory() as scratch:
        site = baseline_tree(args.baseline, Path(scratch))
        versions = {f"baseline {args.baseline}": site, "this checkout": None}
        for path in versions.values():  # warms both versions' disk caches
            run(path)
        times: dict[str, list[dict]] = {name: [] for name in versions}
        for _ in range(args.rounds):
            for name, path in versions.items():
                times[name].append(run(path))
    print("| version | env id | import sentence-transformers | gym.make + reset, warm | ratio |")
    print("|---|---|---|---|---|")
    first = None
    for name, rows in times.items():
        total = statistics.median(r["total"] for r in rows)
        floor = statistics.median(r["floor"] for r in rows)
        first = first or total
        print(f"| {name} | {rows[0]['id']} | {floor:.1f} s | {total:.1f} s | {total / first:.2f} |")
    print(f"\nmedians over {args.rounds} alternating rounds, fresh processes, imports included")


if __name__ == "__main__":
    main()
