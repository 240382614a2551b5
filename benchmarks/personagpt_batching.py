"""PersonaGPTAgent: 16 contexts answered in one batched generate call vs one at a time.

Uses the tiny PersonaGPT-format stand-in on the CPU (the real checkpoint needs the hub).
Usage: python benchmarks/personagpt_batching.py [--contexts 16] [--repeats 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from convenv.agents.base import DialogContext
from convenv.agents.personagpt import PersonaGPTAgent
from convenv.tiny_models import build_tiny_personagpt


def contexts(n: int) -> list[DialogContext]:
    out = []
    for i in range(n):
        history = tuple(f"this is turn {k} of dialog {i}, how are you?" for k in range(i % 4))
        if i % 2:
            out.append(DialogContext(history, goal="ask about pets."))
        else:
            out.append(
                DialogContext(history, persona=("i have a dog.", f"i am {20 + i} years old."))
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contexts", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as directory:
        build_tiny_personagpt(directory)
        agent = PersonaGPTAgent(directory, do_sample=False, max_new_tokens=args.max_new_tokens)
        # min_new_tokens keeps every reply the same length, so both modes do equal work
        agent.model.generation_config.min_new_tokens = args.max_new_tokens
        batch = contexts(args.contexts)
        agent.respond(batch[:2])  # warm-up
        timings = {"one at a time": [], "batched": []}
        for _ in range(args.repeats):
            started = time.perf_counter()
            for context in batch:
                agent.respond([context])
            timings["one at a time"].append(time.perf_counter() - started)
            started = time.perf_counter()
            agent.respond(batch)
            timings["batched"].append(time.perf_counter() - started)
    best = {k: min(v) for k, v in timings.items()}
    print(
        f"tiny PersonaGPT stand-in, CPU, {args.contexts} contexts, "
        f"{args.max_new_tokens} new tokens each, best of {args.repeats}"
    )
    print("| mode | seconds | contexts/s |")
    print("|---|---|---|")
    for mode, seconds in best.items():
        print(f"| {mode} | {seconds:.3f} | {args.contexts / seconds:.1f} |")
    print(f"ratio batched / one-at-a-time: {best['one at a time'] / best['batched']:.2f}x faster")


if __name__ == "__main__":
    main()
