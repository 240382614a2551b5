"""Play whole episodes of a policy, many at once, through an env's batched API."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from convenv.errors import InvalidArgumentError
from convenv.records import EpisodeRecord


def run_episodes(
    env,
    policy,
    seeds: Sequence[int],
    options: Sequence[Mapping | None] | None = None,
    batch_size: int = 16,
    progress: bool = True,
    turns: int | None = None,
) -> Iterator[EpisodeRecord]:
    """Play one episode per seed, ``batch_size`` at a time, yielding each as it ends.

    ``env`` is a :class:`~convenv.env.PersonaInterviewEnv` (its own episode is left
    alone) and ``policy`` an :class:`~convenv.policies.base.ActionPolicy`. Episode
    ``k`` is the one ``env.reset(seed=seeds[k], options=options[k])`` would start, so
    results do not depend on ``batch_size``. ``turns`` stops every episode after that
    many questions (its record holds those turns, as the full episode's first ones):
    for callers that read only the first turns, such as the best-fixed search.
    """
    if turns is not None and not 1 <= turns <= env.max_turns:
        raise InvalidArgumentError(
            f"turns={turns!r}; pass a number of questions from 1 to the env's "
            f"max_turns ({env.max_turns}), or None for whole episodes."
        )
    options = list(options) if options is not None else [None] * len(seeds)
    queue = list(range(len(seeds)))[::-1]
    lanes: list[tuple[int, object] | None] = [None] * min(batch_size, len(seeds))
    bar = tqdm(total=len(seeds), desc=f"episodes ({policy.name})", disable=not progress)
    observations = np.zeros((len(lanes), *env.observation_space.shape), np.float32)
    rewards: dict[int, list[float]] = {}
    policy.attach(env)

    def fill(lane: int) -> None:
        if not queue:
            lanes[lane] = None
            return
        k = queue.pop()
        episode = env.start_episode(seeds[k], options[k])
        lanes[lane] = (k, episode)
        observations[lane] = env.observe([episode])[0]
        # What a policy may read: the claim (the partner's own persona where the task
        # has no claim to verify, which only a policy marked as cheating reads).
        policy.begin_episode(lane, episode.claim, int(seeds[k]))
        policy.watch(lane, episode)

    for lane in range(len(lanes)):
        fill(lane)
    while any(lanes):
        active = [i for i, slot in enumerate(lanes) if slot is not None]
        # Lanes fill in order and all episodes last as long (max_turns, or turns), so
        # the live lanes are a prefix: row i of what the policy sees is lane i.
        assert active == list(range(len(active)))
        actions = policy.act(observations[active])
        batch = env.step_episodes([lanes[i][1] for i in active], list(actions))
        observations[active] = batch.observations
        for lane, reward in zip(active, batch.rewards.tolist(), strict=True):
            rewards.setdefault(lanes[lane][0], []).append(reward)
        for lane, terminated in zip(active, batch.terminated, strict=True):
            if terminated or (turns is not None and len(lanes[lane][1].actions) >= turns):
                k, episode = lanes[lane]
                yield env.record(episode, seeds[k], policy.name, rewards.pop(k))
                bar.update(1)
                fill(lane)
    bar.close()
