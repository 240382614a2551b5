"""Command-line options shared by the jobs that play episodes (bench, selfplay)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from convenv.agent_choice import AGENT_KINDS, INTERVIEWER_KINDS
from convenv.env import PersonaInterviewEnv


def add_rollout_arguments(parser: argparse.ArgumentParser) -> None:
    """Episode length, batch size, which agents speak, device, progress bar."""
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-turns", type=int, default=8)
    parser.add_argument("--n-envs", type=int, default=16, help="episodes played at once")
    parser.add_argument("--partner", default="retrieval", choices=AGENT_KINDS, help="who answers")
    parser.add_argument(
        "--interviewer", default="retrieval", choices=INTERVIEWER_KINDS, help="who asks"
    )
    parser.add_argument("--model", default=None, help="PersonaGPT hub name or local directory")
    parser.add_argument(
        "--identifier",
        default=None,
        help="'filtered' (zero-shot MiniLM, no credit for contradictions) or a fine-tuned "
        "identifier encoder directory (convenv train-identifier); default: zero-shot MiniLM",
    )
    parser.add_argument(
        "--negatives",
        choices=("random", "hard"),
        default=None,
        help="wrong candidate facts: random (convogym) or hard (same topic); "
        "default: random for identification, hard for authentication",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (0: the cores not busy with other work); "
        "1 is fastest for stepping envs",
    )
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--ray",
        action="store_true",
        help="shard episodes over Ray workers (pip install 'convenv[ray]')",
    )
    parser.add_argument("--ray-workers", type=int, default=2, help="--ray: workers, one env each")
    parser.add_argument(
        "--address", default=None, help="--ray: cluster to join (default: start a local one)"
    )


def env_from_arguments(
    args: argparse.Namespace,
    split: str,
    personas: Sequence[Sequence[str]] | None = None,
    task: str = "identification",
    impostor: str = "random",
) -> PersonaInterviewEnv:
    """The env those options describe (and torch's thread count, set before it loads)."""
    from convenv.agents.devices import set_torch_threads

    set_torch_threads(args.threads)
    return PersonaInterviewEnv(
        split=split,
        task=task,
        impostor=impostor,
        identifier=args.identifier,
        negatives=args.negatives,
        personas=personas,
        max_turns=args.max_turns,
        partner=args.partner,
        interviewer=args.interviewer,
        model=args.model,
        device=args.device,
    )


def ray_runner(
    args: argparse.Namespace,
    split: str,
    personas: Sequence[Sequence[str]] | None = None,
    task: str = "identification",
    impostor: str = "random",
):
    """A :class:`~convenv.training.ray_rollout.RayEpisodeRunner` whose workers each build
    the env those options describe, or None without ``--ray``."""
    if not getattr(args, "ray", False):
        return None
    from functools import partial

    from convenv.training.ray_rollout import RayEpisodeRunner

    make_env = partial(env_from_arguments, argparse.Namespace(**vars(args)), split,
                       personas, task=task, impostor=impostor)  # fmt: skip
    return RayEpisodeRunner(make_env, args.ray_workers, args.address)
