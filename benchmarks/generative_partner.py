"""Env steps per second with a generative partner: the chat-template partner on
SmolLM2-135M-Instruct (``--kind chat``, the default), or a PersonaGPT-layout model
(``--kind personagpt``: ``convenv build-partner``'s output): 1 env, 16 envs answered
in one batched ``generate``, and 16 envs answered one at a time; float32 weights vs
bf16 weights; side by side in one run, the settings interleaved so a noisy neighbour
hits all of them.

The interviewer is the retrieval default (so the partner's generation is what is
timed); answers are sampled with PersonaGPT's settings, up to ``--max-new-tokens``.

Usage: python benchmarks/generative_partner.py [--kind chat|personagpt] [--model M]
       [--steps 3] [--threads 2]
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


def steps_per_second(partner, n_envs: int, steps: int) -> float:
    from convenv.splits import training_personas
    from convenv.vec_env import BatchedDialogVecEnv

    env = BatchedDialogVecEnv(n_envs, partner=partner, personas=training_personas())
    env.seed(0)
    env.reset()
    actions = np.arange(n_envs) % env.action_space.n
    env.step(actions)  # warm-up: first generate call, caches
    started = time.perf_counter()
    for _ in range(steps):
        env.step(actions)
    return n_envs * steps / (time.perf_counter() - started)


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
    parser.add_argument("--steps", type=int, default=3, help="timed vector steps per setting")
    parser.add_argument("--max-new-tokens", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    set_torch_threads(args.threads)
    kind = ChatModelAgent if args.kind == "chat" else PersonaGPTAgent
    if args.model is None:
        args.model = "smollm2" if args.kind == "chat" else str(default_partner_directory("smollm2"))
    agents = {
        precision: kind(
            args.model, device="cpu", precision=precision, max_new_tokens=args.max_new_tokens
        )
        for precision in ("float32", "bfloat16")
    }
    settings = [
        ("1 env", 1, False),
        ("16 envs, batched", 16, False),
        ("16 envs, one at a time", 16, True),
    ]
    rates: dict[tuple[str, str], float] = {}
    for name, n_envs, single in settings:
        for precision, agent in agents.items():  # interleaved per setting
            partner = OneAtATime(agent) if single else agent
            rates[name, precision] = steps_per_second(partner, n_envs, args.steps)
            print(f"  {name:24s} {precision:9s} {rates[name, precision]:7.2f} steps/s", flush=True)
    print(f"\n{args.kind} partner, model {args.model}, {args.threads} threads, "
          f"{args.max_new_tokens} new tokens max\n")  # fmt: skip
    print("| setting | float32 steps/s | bf16 steps/s | bf16 / float32 |")
    print("|---|---|---|---|")
    for name, _, _ in settings:
        fp32, bf16 = rates[name, "float32"], rates[name, "bfloat16"]
        print(f"| {name} | {fp32:.2f} | {bf16:.2f} | {bf16 / fp32:.2f}× |")
    for precision in agents:
        batched = rates["16 envs, batched", precision]
        single = rates["16 envs, one at a time", precision]
        print(f"batched / one at a time, {precision}: {batched / single:.2f}×")


if __name__ == "__main__":
    main()
