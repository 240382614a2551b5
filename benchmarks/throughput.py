"""Env steps per second: BatchedDialogVecEnv vs SB3's DummyVecEnv over the same envs.

Each (kind, n_envs) runs in its own process so that peak RSS is that configuration's.
Usage: python benchmarks/throughput.py [--n-envs 1 4 16 64] [--steps 640]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def measure(kind: str, n_envs: int, steps: int) -> dict:
    import numpy as np
    from stable_baselines3.common.vec_env import DummyVecEnv

    from convenv.env import PersonaInterviewEnv
    from convenv.vec_env import BatchedDialogVecEnv

    template = PersonaInterviewEnv()
    if kind == "batched":
        venv = BatchedDialogVecEnv(n_envs, env=template)
    else:
        envs = [template] + [PersonaInterviewEnv.sharing(template) for _ in range(n_envs - 1)]
        venv = DummyVecEnv([lambda e=e: e for e in envs])
    venv.seed(0)
    venv.reset()
    rng = np.random.default_rng(0)
    venv.step(rng.integers(11, size=n_envs))  # warm-up: first-time encodings
    calls = max(1, steps // n_envs)
    started = time.perf_counter()
    for _ in range(calls):
        venv.step(rng.integers(11, size=n_envs))
    elapsed = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "kind": kind,
        "n_envs": n_envs,
        "steps_per_s": calls * n_envs / elapsed,
        "rss_mb": rss_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-envs", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--steps", type=int, default=1280, help="env steps per measurement")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), args.steps)))
        return
    rows = {}
    for n in args.n_envs:
        for kind in ("dummy", "batched"):
            out = subprocess.run(
                [sys.executable, __file__, "--steps", str(args.steps), "--child", kind, str(n)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            rows[kind, n] = json.loads(out.strip().splitlines()[-1])
    print("partner: retrieval (offline default)")
    print(
        "| n_envs | DummyVecEnv steps/s | batched steps/s | ratio | Dummy RSS MB | batched RSS MB |"
    )
    print("|---|---|---|---|---|---|")
    for n in args.n_envs:
        d, b = rows["dummy", n], rows["batched", n]
        print(
            f"| {n} | {d['steps_per_s']:.0f} | {b['steps_per_s']:.0f} | "
            f"{b['steps_per_s'] / d['steps_per_s']:.2f}x | {d['rss_mb']:.0f} | {b['rss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
