"""Env steps per second: BatchedDialogVecEnv vs SB3's DummyVecEnv over the same envs.

Both wrap the same PersonaInterviewEnv engine (one copy of the models), so the only
difference is one batched call per stage (batched) versus one call per env
(DummyVecEnv). Each (agents, kind, n_envs) runs in its own process so that its peak
RSS is its own; the two kinds alternate over ``--rounds`` rounds and each process
times several blocks of steps, and the table gives the median block, so a noisy
neighbour on a shared machine does not decide the ratio. Agents: the offline
retrieval default (timed after a warm-up that fills its question caches, as in any
run longer than a few thousand steps), and the tiny PersonaGPT stand-in as partner
and interviewer (greedy, 24 new tokens).

Usage: python benchmarks/throughput.py [--n-envs 1 4 16 64] [--agents retrieval tiny-personagpt]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time

# Env steps: warm-up, then each timed block.
WARMUP = {"retrieval": 4096, "tiny-personagpt": 64}
BLOCK = {"retrieval": 4096, "tiny-personagpt": 128}
BLOCKS = 5


def make_template(agents: str):
    from convenv.env import PersonaInterviewEnv

    if agents == "retrieval":
        return PersonaInterviewEnv()
    from convenv.agents.personagpt import PersonaGPTAgent
    from convenv.personachat import load_dialogs
    from convenv.tiny_models import build_tiny_personagpt

    # A tokenizer that knows Persona-Chat words keeps prompts at realistic lengths.
    text = [t for d in load_dialogs("train")[:300] for t in (*d.turns, *d.persona1, *d.persona2)]
    directory = build_tiny_personagpt(tempfile.mkdtemp(), text, vocab_size=2000)
    agent = PersonaGPTAgent(directory, do_sample=False, max_new_tokens=24)
    agent.model.generation_config.min_new_tokens = 24  # equal work per reply
    return PersonaInterviewEnv(partner=agent, interviewer=agent)


def measure(agents: str, kind: str, n_envs: int) -> dict:
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
    for _ in range(max(3, WARMUP[agents] // n_envs)):
        venv.step(rng.integers(11, size=n_envs))
    calls = max(2, BLOCK[agents] // n_envs)
    rates = []
    for _ in range(BLOCKS):
        started = time.perf_counter()
        for _ in range(calls):
            venv.step(rng.integers(11, size=n_envs))
        rates.append(calls * n_envs / (time.perf_counter() - started))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rates": rates, "rss_mb": rss_mb}


def run_child(agents: str, kind: str, n_envs: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", agents, kind, str(n_envs)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-envs", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--agents", nargs="+", default=list(WARMUP), choices=list(WARMUP))
    parser.add_argument("--rounds", type=int, default=2, help="processes per kind and n_envs")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        agents, kind, n = args.child
        print(json.dumps(measure(agents, kind, int(n))))
        return
    from tqdm.auto import tqdm

    jobs = [
        (agents, n, kind)
        for agents in args.agents
        for n in args.n_envs
        for _ in range(args.rounds)
        for kind in ("dummy", "batched")
    ]
    rates: dict[tuple, list[list[float]]] = {}  # per process: its blocks' rates
    rss: dict[tuple, float] = {}
    for agents, n, kind in tqdm(jobs, desc="benchmark processes"):
        result = run_child(agents, kind, n)
        rates.setdefault((agents, kind, n), []).append(result["rates"])
        rss[agents, kind, n] = max(rss.get((agents, kind, n), 0.0), result["rss_mb"])
    for agents in args.agents:
        print(f"\nagents: {agents} (env steps/s, median of {args.rounds} x {BLOCKS} blocks)")
        print(
            "| n_envs | Dummy steps/s | batched steps/s | ratio | ratio per round "
            "| Dummy RSS MB | batched RSS MB |"
        )
        print("|---|---|---|---|---|---|---|")
        for n in args.n_envs:
            dummy, batched = rates[agents, "dummy", n], rates[agents, "batched", n]
            d = statistics.median(r for blocks in dummy for r in blocks)
            b = statistics.median(r for blocks in batched for r in blocks)
            # Each round's two processes ran back to back: their ratio shows the noise.
            rounds = sorted(
                statistics.median(y) / statistics.median(x)
                for x, y in zip(dummy, batched, strict=True)
            )
            print(
                f"| {n} | {d:,.0f} | {b:,.0f} | {b / d:.2f}x | "
                f"{rounds[0]:.2f}-{rounds[-1]:.2f}x | "
                f"{rss[agents, 'dummy', n]:,.0f} | {rss[agents, 'batched', n]:,.0f} |"
            )


if __name__ == "__main__":
    main()
