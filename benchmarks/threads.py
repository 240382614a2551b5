"""How many torch threads each job should use: PPO training and LM fine-tuning, each
timed with 1 thread and with torch's default (one per core), side by side.

Each (job, threads) runs in its own process (thread pools are set once per process),
and the settings alternate over ``--rounds`` rounds so a noisy neighbour on a shared
machine hits both; the table gives the median round and the ratio.

- train: SB3 PPO (the convenv defaults) on the batched vector env with the retrieval
  default, 16 envs, env steps per second after a warm-up.
- finetune: the tiny PersonaGPT stand-in (2 layers) on Persona-Chat examples,
  batch 8, tokens per second.

Usage: python benchmarks/threads.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def train_rate() -> float:
    from stable_baselines3 import PPO

    from convenv.splits import training_personas
    from convenv.vec_env import BatchedDialogVecEnv

    env = BatchedDialogVecEnv(16, personas=training_personas())
    kwargs = {"n_steps": 16, "batch_size": 64, "n_epochs": 4, "learning_rate": 1e-3}
    model = PPO("MlpPolicy", env, device="cpu", seed=0, **kwargs)
    model.learn(4096)  # warm caches
    started = time.perf_counter()
    model.learn(16_384, reset_num_timesteps=False)
    return 16_384 / (time.perf_counter() - started)


def finetune_rate(n_layer: int, n_embd: int, steps: int) -> float:
    from convenv.personachat import load_dialogs
    from convenv.tiny_models import build_tiny_personagpt
    from convenv.training.finetune import FinetuneConfig, finetune

    dialogs = load_dialogs("train")[:200]
    text = [t for d in dialogs for t in (*d.turns, *d.persona1, *d.persona2)]
    work = tempfile.mkdtemp()
    directory = build_tiny_personagpt(f"{work}/lm", text, vocab_size=2000, n_layer=n_layer,
                                      n_embd=n_embd)  # fmt: skip
    config = FinetuneConfig(
        model=str(directory), task="personachat", personachat_dialogs=200, out=f"{work}/out",
        max_steps=steps, batch_size=8, max_length=256, device="cpu", progress=False,
        threads=0,  # keep the thread count the child set
    )  # fmt: skip
    return finetune(config)["tokens_per_second"]


JOBS = {
    "train": (train_rate, "env steps/s"),
    # The 2-layer test stand-in, and a 6-layer, 512-wide GPT-2 (~25M parameters) whose
    # matrix products are large enough to share between threads.
    "finetune-tiny": (lambda: finetune_rate(2, 64, 40), "tokens/s"),
    "finetune-25M": (lambda: finetune_rate(6, 512, 8), "tokens/s"),
}


def child(job: str, threads: int) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)
    print(json.dumps({"rate": JOBS[job][0](), "threads": torch.get_num_threads()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", nargs="+", default=list(JOBS), choices=list(JOBS))
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()}")
    print("| job | unit | 1 thread | default threads | 1 thread / default | per round |")
    print("|---|---|---|---|---|---|")
    for job in args.jobs:
        rates: dict[int, list[float]] = {1: [], 0: []}
        used = {}
        for _ in range(args.rounds):
            for threads in (1, 0):  # 0: torch's default
                env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
                out = subprocess.run(
                    [sys.executable, __file__, "--child", job, str(threads)],
                    capture_output=True, text=True, env=env, check=True,
                )  # fmt: skip
                result = json.loads(out.stdout.strip().splitlines()[-1])
                rates[threads].append(result["rate"])
                used[threads] = result["threads"]
        one, default = statistics.median(rates[1]), statistics.median(rates[0])
        per_round = [a / b for a, b in zip(rates[1], rates[0], strict=True)]
        print(
            f"| {job} | {JOBS[job][1]} | {one:,.0f} | {default:,.0f} ({used[0]} threads) | "
            f"{one / default:.2f}x | {min(per_round):.2f}-{max(per_round):.2f}x |"
        )


if __name__ == "__main__":
    main()
