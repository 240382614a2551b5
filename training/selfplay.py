"""``convenv selfplay``: generate interview episodes as JSON Lines, streamed to disk.

One episode per line: the persona (and claim), the action codes and their labels,
the questions and answers as separate lists, per-turn rewards and metrics, the seed
and the settings. Load with :func:`read_episodes` or
``datasets.load_dataset("json", data_files=...)``. An existing file is never
silently extended: ``--resume`` skips the seeds it already holds, ``--overwrite``
starts it again. Ctrl-C keeps every finished episode and says how many.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from convenv.cli import plain
from convenv.env import PersonaInterviewEnv
from convenv.errors import ConvenvError, InvalidArgumentError
from convenv.run_manifest import write_run_manifest
from convenv.training.jsonl import JsonlWriter, read_jsonl
from convenv.training.policy_specs import LookaheadBound, make_policies
from convenv.training.rollout import EpisodeRecord, episode_design, run_episodes
from convenv.training.rollout_arguments import add_rollout_arguments, env_from_arguments

MODES = ("new", "resume", "overwrite")


class SelfPlayInterrupted(ConvenvError):
    """Ctrl-C during self-play; ``written`` episodes were kept."""

    def __init__(self, written: int, out: Path) -> None:
        super().__init__(f"interrupted: {written} finished episodes kept in {out}")
        self.written = written


@dataclass
class SelfPlayResult:
    written: int
    skipped: int  # seeds already in the file (resume)


def selfplay(
    env: PersonaInterviewEnv,
    policy_spec: str,
    episodes: int,
    out: Path | str,
    seed: int = 0,
    batch_size: int = 16,
    progress: bool = True,
    mode: str = "new",
) -> SelfPlayResult:
    """Write ``episodes`` episodes to ``out`` (one per seed ``seed*1_000_003 + k``)."""
    if mode not in MODES:
        raise InvalidArgumentError(f"mode={mode!r}; pass one of {MODES}.")
    out = Path(out)
    if out.exists() and out.stat().st_size > 0 and mode == "new":
        raise InvalidArgumentError(
            f"out={str(out)!r} already holds episodes; pass --resume to add the missing "
            "seeds or --overwrite to start it again."
        )
    if mode == "overwrite":
        out.unlink(missing_ok=True)
    (policy,) = make_policies([policy_spec], env, seed)
    if isinstance(policy, LookaheadBound):
        raise InvalidArgumentError("policy 'lookahead' is offered by convenv bench only.")
    engine = env.engine
    settings = {"split": env.split, **episode_design(env)}
    seeds = [seed * 1_000_003 + k for k in range(episodes)]
    earlier = list(read_jsonl(out)) if out.exists() else []
    done = {row.get("seed") for row in earlier}
    todo = [s for s in seeds if s not in done]
    written = 0
    try:
        with JsonlWriter(out) as writer:
            for record in run_episodes(env, policy, todo, None, batch_size, progress):
                row = record.to_dict()
                row["questions"] = record.utterances[0::2]
                row["answers"] = record.utterances[1::2]
                row["labels"] = [engine.actions[a].label for a in record.actions]
                writer.write({**row, "settings": settings})
                written += 1
    except KeyboardInterrupt:
        # Counted from the file: Ctrl-C may land between a finished write and the count.
        kept = sum(1 for _ in read_jsonl(out)) - len(earlier)
        raise SelfPlayInterrupted(kept, out) from None
    return SelfPlayResult(written, len(seeds) - len(todo))


def read_episodes(path: Path | str) -> list[EpisodeRecord]:
    """Episodes of a self-play file (a torn last line is skipped with a warning)."""
    fields = EpisodeRecord.__dataclass_fields__
    return [
        EpisodeRecord(**{k: v for k, v in row.items() if k in fields}) for row in read_jsonl(path)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convenv selfplay",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument(
        "--policy",
        default="random",
        help="random, round-robin, oracle, claim, fixed:K or a model saved by convenv train",
    )
    parser.add_argument("--split", default="train", choices=["train", "test"])
    parser.add_argument("--task", default="identification",
                        choices=("identification", "authentication"))  # fmt: skip
    parser.add_argument("--out", default="runs/selfplay/episodes.jsonl")
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="add the seeds the file lacks")
    again.add_argument("--overwrite", action="store_true", help="start the file again")
    add_rollout_arguments(parser)
    args = parser.parse_args(argv)
    mode = "resume" if args.resume else "overwrite" if args.overwrite else "new"
    out = Path(args.out)
    if mode == "new" and out.exists() and out.stat().st_size > 0:
        parser.error(f"--out {args.out} already holds episodes; pass --resume or --overwrite")
    env = env_from_arguments(args, args.split, task=args.task)
    started = time.time()
    try:
        result = selfplay(env, args.policy, args.episodes, out, args.seed, args.n_envs,
                          args.progress, mode)  # fmt: skip
    except SelfPlayInterrupted as stop:
        print(f"convenv selfplay: {stop}")
        return 130
    write_run_manifest(out.parent, "selfplay", vars(args), started, name=f"{out.stem}.run.json",
                       written=result.written)  # fmt: skip
    skipped = f" ({result.skipped} seeds were already there)" if result.skipped else ""
    print(f"wrote {result.written} episodes to {args.out}{skipped}")
    return 0
