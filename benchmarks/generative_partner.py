"""Env steps per second with a generative partner: the chat-template partner on
SmolLM2-135M-Instruct (``--kind chat``, the default), or a PersonaGPT-layout model
(``--kind personagpt``: ``convenv build-partner``'s output): 1 env, 16 envs answered
in one batched ``generate``, and 16 envs answered one at a time; float32 weights vs
bf16 weights; side by side in one run, the settings interleaved so a noisy neighbour
hits all of them.

The interviewer is the retrieval default (so the partner's generation is what is
timed); answers are sampled with PersonaGPT's settings, up to ``--max-new-tokens``.

Each setting is also measured with the prefix cache (``prefix_cache_mb``: a dialog's
next turn reads only its new tokens), so its gain is read off the same run.

Usage: python benchmarks/generative_partner.py [--kind chat|personagpt] [--model M]
       [--turns 8] [--threads 2] [--settings "16 envs, batched" ...]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np

from convenv.agents.base import DialogContext


class OneAtATime:
    """The same agent, asked for one answer per call (what an unbatched env does)."""

    def __init__(self, agent) -> None:
        self.agent = agent

    def respond(self, contexts: Sequence[DialogContext]) -> list[str]:
        return [self.agent.respond([c])[0] for c in contexts]


def steps_per_second(partner, n_envs: int, turns: int) -> float:
    """Env steps per second over ``turns`` vector steps from a reset (one whole episode
    at the default 8): a dialog's later turns have longer prompts, so a timing that
    stopped early would favour neither setting fairly."""
    from convenv.splits import training_personas
    from convenv.vec_env import BatchedDialogVecEnv

    env = BatchedDialogVecEnv(n_envs, partner=partner, personas=training_personas())
    env.seed(0)
    env.reset()
    actions = np.arange(n_envs) % env.action_space.n
    started = time.perf_counter()
    for _ in range(turns):
        env.step(actions)
    return n_envs * turns / (time.perf_counter() - started)


SETTINGS = {
    "1 env": (1, False),
    "16 envs, batched": (16, False),
    "16 envs, one at a time": (16, True),
}
VARIANTS = ("float32", "bf16", "float32 + prefix cache", "bf16 + prefix cache")


def main() -> None:
    from convenv.agents.chat_model import ChatModelAgent
    from convenv.agents.personagpt import PersonaGPTAgent
    from convenv.devices import set_torch_threads
    from convenv.training.build_partner import default_partner_directory

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", choices=("chat", "personagpt"), default="chat")
    parser.add_argument(
        "--model", default=None, help="unset: smollm2 (chat) or the built partner (personagpt)"
    )
    parser.add_argument("--turns", type=int, default=8, help="timed vector steps per setting")
    parser.add_argument("--max-new-tokens", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS),
        help="which rows to measure",
    )  # fmt: skip
    args = parser.parse_args()
    set_torch_threads(args.threads)
    kind = ChatModelAgent if args.kind == "chat" else PersonaGPTAgent
    if args.model is None:
        args.model = "smollm2" if args.kind == "chat" else str(default_partner_directory("smollm2"))
    agents = {}
    for variant in VARIANTS:
        precision = "bfloat16" if variant.startswith("bf16") else "float32"
        agents[variant] = kind(
            args.model, device="cpu", precision=precision, max_new_tokens=args.max_new_tokens,
            prefix_cache_mb=1024 if "prefix cache" in variant else 0,
        )  # fmt: skip
        # The first generate call pays one-time costs; no setting should carry them.
        agents[variant].respond([DialogContext(persona=("i like tea.",), history=("hi!",))])
    rates: dict[tuple[str, str], float] = {}
    for name in args.settings:
        n_envs, single = SETTINGS[name]
        for variant, agent in agents.items():  # interleaved per setting
            if hasattr(agent.decode, "prefix_cache") and agent.decode.prefix_cache is not None:
                agent.decode.prefix_cache.clear()  # each setting starts cold
            partner = OneAtATime(agent) if single else agent
            rates[name, variant] = steps_per_second(partner, n_envs, args.turns)
            print(f"  {name:24s} {variant:24s} {rates[name, variant]:7.2f} steps/s", flush=True)
    print(f"\n{args.kind} partner, model {args.model}, {args.threads} threads, "
          f"{args.max_new_tokens} new tokens max, {args.turns} turns from a reset\n")  # fmt: skip
    print("| setting | " + " | ".join(f"{v} steps/s" for v in VARIANTS) + " |")
    print("|---|" + "---|" * len(VARIANTS))
    for name in args.settings:
        print(f"| {name} | " + " | ".join(f"{rates[name, v]:.2f}" for v in VARIANTS) + " |")
    print()
    for name in args.settings:
        for precision in ("float32", "bf16"):
            ratio = rates[name, f"{precision} + prefix cache"] / rates[name, precision]
            print(f"{name}, {precision}: prefix cache / none {ratio:.2f}×")
        ratio = rates[name, "bf16 + prefix cache"] / rates[name, "float32"]
        print(f"{name}: bf16 + prefix cache / float32 {ratio:.2f}×")
    if {"16 envs, batched", "16 envs, one at a time"} <= set(args.settings):
        for variant in VARIANTS:
            ratio = rates["16 envs, batched", variant] / rates["16 envs, one at a time", variant]
            print(f"batched / one at a time, {variant}: {ratio:.2f}×")


if __name__ == "__main__":
    main()
