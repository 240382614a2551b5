"""Peak and current memory of a long run: does anything grow without bound?

Builds the default env once, then reports the process's resident memory (RSS) after
``--steps`` vector-env steps (16 envs, random codes), after ``--questions`` questions
the partner has never seen (each one adds to its question caches, which are capped),
and after one 100-fact persona joins a batch (it must not widen the cached personas).

Usage: python benchmarks/memory.py [--steps 800000] [--questions 2000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=800_000, help="env steps (16 envs)")
    parser.add_argument("--questions", type=int, default=2000)
    args = parser.parse_args()

    from convenv.agents.base import DialogContext
    from convenv.vec_env import BatchedDialogVecEnv

    venv = BatchedDialogVecEnv(16)
    venv.seed(0)
    venv.reset()
    rng = np.random.default_rng(0)
    rows = [("after building the env", rss_mb(), 0.0)]
    started = time.perf_counter()
    for step in range(args.steps // 16):
        venv.step(rng.integers(0, 11, size=16))
        if step == 4096:
            rows.append(("after 65k env steps (warm)", rss_mb(), time.perf_counter() - started))
    rows.append((f"after {args.steps:,} env steps", rss_mb(), time.perf_counter() - started))
    partner = venv.engine.partner
    persona = venv.envs[0].episode.persona
    started = time.perf_counter()
    for k in range(args.questions):
        question = f"what would you do with {k} {['apples', 'dogs', 'songs'][k % 3]} today?"
        partner.respond([DialogContext(("hi", question), persona=persona)])
    rows.append(
        (f"after {args.questions:,} novel questions", rss_mb(), time.perf_counter() - started)
    )
    long_persona = tuple(f"i have collected {k} rare stamps." for k in range(100))
    partner.respond([DialogContext(("hi", "what do you collect?"), persona=long_persona)])
    for _ in range(2000):
        venv.step(rng.integers(0, 11, size=16))
    rows.append(("after a 100-fact persona + 32k steps", rss_mb(), 0.0))
    print("| point | RSS MB | seconds |")
    print("|---|---|---|")
    for name, mb, seconds in rows:
        print(f"| {name} | {mb:,.0f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
