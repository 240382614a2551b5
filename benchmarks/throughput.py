"""Env steps per second: BatchedDialogVecEnv vs SB3's DummyVecEnv over the same envs.

Both wrap the same PersonaInterviewEnv engine (one copy of the models), so the only
difference is one batched call per stage (batched) versus one call per env
(DummyVecEnv). Each (agents, kind, n_envs) runs in its own process so that its peak
RSS is its own. Agents: the offline retrieval default, and the tiny PersonaGPT
stand-in as partner and interviewer (greedy, 24 new tokens).

Usage: python benchmarks/throughput.py [--n-envs 1 4 16 64] [--agents retrieval tiny-personagpt]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time

STEPS = {"retrieval": 1280, "tiny-personagpt": 256}


def make_template(agents: str):
    from convenv.env import PersonaInterviewEnv

    if agents == "retrieval":
        return PersonaInterviewEnv()
    from agents.personagpt import PersonaGPTAgent
    from agents.tiny_personagpt import build_tiny_personagpt
    from convenv.personachat import load_dialogs

    # A tokenizer that knows Persona-Chat words keeps prompts at realistic lengths.
    text = [t for d in load_dialogs("train")[:300] for t in (*d.turns, *d.persona1, *d.persona2)]
    directory = build_tiny_personagpt(tempfile.mkdtemp(), text, vocab_size=2000)
    agent = PersonaGPTAgent(directory, do_sample=False, max_new_tokens=24)
    agent.model.generation_config.min_new_tokens = 24  # equal work per reply
    return PersonaInterviewEnv(partner=agent, interviewer=agent)


def measure(agents: str, kind: str, n_envs: int, steps: int) -> dict:
    import numpy as np
    from stable_baselines3.common.vec_env import DummyVecEnv

    from convenv.env import PersonaInterviewEnv
    from convenv.vec_env import BatchedDialogVecEnv

    template = make_template(agents)
    if kind == "batched":
        venv = BatchedDialogVecEnv(n_envs, env=template)
    else:
        envs = [template] + [PersonaInterviewEnv.sharing(template) for _ in range(n_envs - 1)]
        venv = DummyVecEnv([lambda e=e: e for e in envs])
    venv.seed(0)
    venv.reset()
    rng = np.random.default_rng(0)
    for _ in range(3):  # warm-up: caches and first-call costs
        venv.step(rng.integers(11, size=n_envs))
    calls = max(2, steps // n_envs)
    started = time.perf_counter()
    for _ in range(calls):
        venv.step(rng.integers(11, size=n_envs))
    elapsed = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"steps_per_s": calls * n_envs / elapsed, "rss_mb": rss_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-envs", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--agents", nargs="+", default=list(STEPS), choices=list(STEPS))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        agents, kind, n = args.child
        print(json.dumps(measure(agents, kind, int(n), STEPS[agents])))
        return
    for agents in args.agents:
        rows = {}
        for n in args.n_envs:
            for kind in ("dummy", "batched"):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", agents, kind, str(n)],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                rows[kind, n] = json.loads(out.strip().splitlines()[-1])
        print(f"\nagents: {agents}")
        print(
            "| n_envs | Dummy steps/s | batched steps/s | ratio | Dummy RSS MB | batched RSS MB |"
        )
        print("|---|---|---|---|---|---|")
        for n in args.n_envs:
            d, b = rows["dummy", n], rows["batched", n]
            print(
                f"| {n} | {d['steps_per_s']:.0f} | {b['steps_per_s']:.0f} | "
                f"{b['steps_per_s'] / d['steps_per_s']:.2f}x | {d['rss_mb']:.0f} | "
                f"{b['rss_mb']:.0f} |"
            )


if __name__ == "__main__":
    main()
