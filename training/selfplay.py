"""``convenv selfplay``: generate interview episodes as JSON Lines, streamed to disk.

One episode per line: both personas (the interviewer's is empty for retrieval
agents), the action codes, every utterance, per-turn metrics, seed and settings.
Load with :func:`read_episodes` or ``datasets.load_dataset("json", data_files=...)``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from convenv.env import PersonaInterviewEnv
from convenv.training.jsonl import JsonlWriter, read_jsonl
from convenv.training.policy_specs import make_policies
from convenv.training.rollout import EpisodeRecord, run_episodes
from convenv.training.rollout_arguments import add_rollout_arguments, env_from_arguments


def selfplay(
    env: PersonaInterviewEnv,
    policy_spec: str,
    episodes: int,
    out: Path | str,
    seed: int = 0,
    batch_size: int = 16,
    progress: bool = True,
) -> int:
    """Append ``episodes`` episodes to ``out``; returns how many were written."""
    (policy,) = make_policies([policy_spec], env, seed)
    settings = {
        "split": env.split,
        "max_turns": env.engine.max_turns,
        "n_negatives": env.engine.n_negatives,
        "reward_metric": env.engine.reward_metric,
        "partner": type(env.engine.partner).__name__,
        "interviewer": type(env.engine.interviewer).__name__,
    }
    seeds = [seed * 1_000_003 + k for k in range(episodes)]
    written = 0
    with JsonlWriter(out) as writer:
        for record in run_episodes(env, policy, seeds, None, batch_size, progress):
            writer.write({**record.to_dict(), "interviewer_persona": [], "settings": settings})
            written += 1
    return written


def read_episodes(path: Path | str) -> list[EpisodeRecord]:
    """Episodes of a self-play file (a torn last line is skipped with a warning)."""
    fields = EpisodeRecord.__dataclass_fields__
    return [
        EpisodeRecord(**{k: v for k, v in row.items() if k in fields}) for row in read_jsonl(path)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="convenv selfplay", description=__doc__)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument(
        "--policy",
        default="random",
        help="random, round-robin, oracle, fixed:K or a saved SB3 model",
    )
    parser.add_argument("--split", default="train", choices=["train", "test"])
    parser.add_argument("--out", default="runs/selfplay/episodes.jsonl")
    add_rollout_arguments(parser)
    args = parser.parse_args(argv)
    env = env_from_arguments(args, args.split)
    n = selfplay(env, args.policy, args.episodes, args.out, args.seed, args.n_envs, args.progress)
    print(f"wrote {n} episodes to {args.out}")
    return 0
