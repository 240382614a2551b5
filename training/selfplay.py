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

from convenv.arguments import positive
from convenv.cli import plain
from convenv.env import PersonaInterviewEnv
from convenv.errors import ConvenvError, InvalidArgumentError
from convenv.personachat import SPLITS
from convenv.policies.registry import PolicyContext, check_specs, make_policies, policy_lines
from convenv.records import EpisodeRecord
from convenv.rollout import run_episodes
from convenv.run_manifest import write_run_manifest
from convenv.tasks import task_class
from convenv.training.jsonl import JsonlWriter, read_jsonl
from convenv.training.rollout_arguments import (
    add_rollout_arguments,
    env_from_config,
    ray_runner,
    rollout_config,
)

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


def shard_files(out: Path) -> list[Path]:
    """The per-worker files ``selfplay --ray`` streams to beside ``out``
    (``NAME.part-K.jsonl``) until the run merges them into ``out``."""
    return sorted(out.parent.glob(f"{out.stem}.part-*{out.suffix}"))


def shard_file(out: Path, worker: int) -> Path:
    return out.with_name(f"{out.stem}.part-{worker:03d}{out.suffix}")


def episode_files(out: Path | str) -> list[Path]:
    """``out`` (if it exists) and its Ray shards: every file one self-play run wrote."""
    out = Path(out)
    return ([out] if out.exists() else []) + shard_files(out)


def write_episodes(
    env: PersonaInterviewEnv,
    policy,
    seeds: list[int],
    path: Path,
    batch_size: int = 16,
    progress: bool = True,
) -> int:
    """Play one episode per seed and append each to ``path`` as it ends; returns how many."""
    settings = {"split": env.split, **env.design()}
    written = 0
    with JsonlWriter(path) as writer:
        for record in run_episodes(env, policy, seeds, None, batch_size, progress):
            row = record.to_dict()
            row["questions"] = record.utterances[0::2]
            row["answers"] = record.utterances[1::2]
            row["labels"] = [env.actions[a].label for a in record.actions]
            writer.write({**row, "settings": settings})
            written += 1
    return written


def merge_shards(out: Path) -> int:
    """Append the episodes of ``out``'s Ray shards to ``out`` in seed order, then remove
    the shards; returns how many were added. A seed already in ``out`` is not added
    again, so a merge cut short by a crash is finished by the next one."""
    shards = shard_files(out)
    if not shards:
        return 0
    held = {row.get("seed") for row in read_jsonl(out)} if out.exists() else set()
    rows = [row for path in shards for row in read_jsonl(path) if row.get("seed") not in held]
    with JsonlWriter(out) as writer:  # each line fsynced before any shard goes
        for row in sorted(rows, key=lambda r: r.get("seed", 0)):
            writer.write(row)
    for path in shards:
        path.unlink()
    return len(rows)


def _lines(paths: list[Path]) -> int:
    return sum(1 for path in paths for _ in read_jsonl(path))


def selfplay(
    env: PersonaInterviewEnv,
    policy_spec: str,
    episodes: int,
    out: Path | str,
    seed: int = 0,
    batch_size: int = 16,
    progress: bool = True,
    mode: str = "new",
    runner=None,
) -> SelfPlayResult:
    """Write ``episodes`` episodes to ``out`` (one per seed ``seed*1_000_003 + k``).

    With ``runner`` (a :class:`~convenv.training.ray_rollout.RayEpisodeRunner`) the
    seeds are sharded over Ray workers, each streaming to its own file beside ``out``;
    when they finish the shards are merged into ``out`` (:func:`merge_shards`), so the
    run leaves exactly the file it names. Shards an interrupted run left are merged by
    ``--resume``.
    """
    if mode not in MODES:
        raise InvalidArgumentError(f"mode={mode!r}; pass one of {MODES}.")
    out = Path(out)
    existing = [p for p in episode_files(out) if p.stat().st_size > 0]
    if existing and mode == "new":
        raise InvalidArgumentError(
            f"out={str(out)!r} already holds episodes; pass --resume to add the missing "
            "seeds or --overwrite to start it again."
        )
    if mode == "overwrite":
        for path in episode_files(out):
            path.unlink()
    policies = make_policies([policy_spec], PolicyContext(env, seed, out.parent))
    if len(policies) != 1:
        raise InvalidArgumentError(
            f"policy {policy_spec!r} names {len(policies)} policies; self-play plays one."
        )
    (policy,) = policies
    seeds = [seed * 1_000_003 + k for k in range(episodes)]
    earlier = [row for path in episode_files(out) for row in read_jsonl(path)]
    done = {row.get("seed") for row in earlier}
    todo = [s for s in seeds if s not in done]
    try:
        if runner is None:
            written = write_episodes(env, policy, todo, out, batch_size, progress)
        else:
            written = runner.write(env, policy, todo, out, batch_size, progress)
        merge_shards(out)  # also what an interrupted Ray run left
    except KeyboardInterrupt:
        # Counted from the files: Ctrl-C may land between a finished write and the count.
        raise SelfPlayInterrupted(_lines(episode_files(out)) - len(earlier), out) from None
    return SelfPlayResult(written, len(seeds) - len(todo))


def read_episodes(path: Path | str) -> list[EpisodeRecord]:
    """Episodes of a self-play file and its Ray shards, in seed order (a torn last line
    is skipped with a warning)."""
    fields = EpisodeRecord.__dataclass_fields__
    records = [
        EpisodeRecord(**{k: v for k, v in row.items() if k in fields})
        for file in episode_files(path)
        for row in read_jsonl(file)
    ]
    return sorted(records, key=lambda r: r.seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convenv selfplay",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--episodes", type=positive("--episodes"), default=100, help="episodes to write"
    )
    parser.add_argument(
        "--policy", default="random", help="who picks the codes: " + "; ".join(policy_lines())
    )
    parser.add_argument(
        "--split",
        default="train",
        choices=SPLITS,
        help="personas: train (for training data) or test (held out)",
    )
    parser.add_argument(
        "--out", default="runs/selfplay/episodes.jsonl", help="the JSON Lines file to write"
    )
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="add the seeds the file lacks")
    again.add_argument("--overwrite", action="store_true", help="start the file again")
    add_rollout_arguments(parser)
    args = parser.parse_args(argv)
    mode = "resume" if args.resume else "overwrite" if args.overwrite else "new"
    out = Path(args.out)
    if mode == "new" and any(p.stat().st_size > 0 for p in episode_files(out)):
        parser.error(f"--out {args.out} already holds episodes; pass --resume or --overwrite")
    check_specs([args.policy], task_class(args.task))
    config = rollout_config(args, args.split)
    env = env_from_config(config, args.threads)
    runner = ray_runner(args, config)
    started = time.time()
    try:
        result = selfplay(env, args.policy, args.episodes, out, args.seed, args.n_envs,
                          args.progress, mode, runner)  # fmt: skip
    except SelfPlayInterrupted as stop:
        print(f"convenv selfplay: {stop}")
        if shard_files(out):
            print(f"the Ray workers' episodes are in {out.stem}.part-*; --resume merges them")
        return 130
    finally:
        if runner is not None:
            runner.close()
    write_run_manifest(out.parent, "selfplay", vars(args), started, name=f"{out.stem}.run.json",
                       resumed=mode == "resume", written=result.written)  # fmt: skip
    skipped = f" ({result.skipped} seeds were already there)" if result.skipped else ""
    print(f"wrote {result.written} episodes to {args.out}{skipped}")
    return 0
