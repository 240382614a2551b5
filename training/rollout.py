"""Run whole episodes of a policy against an env's engine, many at once."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from gymnasium.utils import seeding
from tqdm.auto import tqdm

from convenv.env import PersonaInterviewEnv
from convenv.interview import InterviewEngine, InterviewEpisode
from convenv.policies.base import ActionPolicy


@dataclass
class EpisodeRecord:
    """One finished interview, as written to self-play files.

    ``claim`` is the persona whose facts were scored (the partner's own in
    identification); ``genuine`` is None in identification, else whether the partner
    was the claimed persona; ``rewards`` are the per-turn rewards the env paid.
    """

    seed: int
    persona: list[str]
    candidates: list[str]
    is_true: list[bool]
    actions: list[int]
    codes: list[str]
    utterances: list[str]
    metrics: list[dict[str, float]]
    policy: str
    claim: list[str] = field(default_factory=list)
    genuine: bool | None = None
    rewards: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def final_metrics(self) -> dict[str, float]:
        return self.metrics[-1]


def episode_design(env: PersonaInterviewEnv) -> dict:
    """Everything that shapes an env's episodes (not which personas it draws): what a
    searched baseline depends on and what a self-play file records."""
    engine = env.engine
    design = {
        "task": engine.task,
        "max_turns": engine.max_turns,
        "n_negatives": engine.n_negatives,
        "negatives": engine.negatives,
        "reward_metric": engine.reward_metric,
        "reward_mode": engine.reward_mode,
        "actions": [a.prompt for a in engine.actions],
        "partner": type(engine.partner).__name__,
        "interviewer": type(engine.interviewer).__name__,
        "identifier_encoder": getattr(engine.identifier.encoder, "model_id", None),
    }
    if engine.task == "authentication":
        design.update(asdict(engine.impostors), threshold=engine.threshold)
    return design


def episode_record(
    engine: InterviewEngine,
    episode: InterviewEpisode,
    seed: int,
    policy: str,
    rewards: list[float],
) -> EpisodeRecord:
    """The record of a finished episode."""
    return EpisodeRecord(
        seed=int(seed),
        persona=list(episode.persona),
        candidates=list(episode.candidates),
        is_true=[bool(t) for t in episode.is_true],
        actions=list(episode.actions),
        codes=[engine.actions[a].prompt for a in episode.actions],
        utterances=list(episode.history),
        metrics=list(episode.metrics),
        policy=policy,
        claim=list(episode.claim),
        genuine=episode.genuine,
        rewards=list(rewards),
    )


def start_episode(
    env: PersonaInterviewEnv, seed: int, options: Mapping | None = None
) -> InterviewEpisode:
    """The episode ``env.reset(seed=seed, options=options)`` starts, without touching
    ``env`` (many can be played side by side)."""
    rng, _ = seeding.np_random(int(seed))
    return env.engine.start(rng, env.personas, env.candidate_pool, options)


def run_episodes(
    env: PersonaInterviewEnv,
    policy: ActionPolicy,
    seeds: Sequence[int],
    options: Sequence[Mapping | None] | None = None,
    batch_size: int = 16,
    progress: bool = True,
) -> Iterator[EpisodeRecord]:
    """Play one episode per seed, ``batch_size`` at a time, yielding each as it ends.

    Episode ``k`` is the one ``env.reset(seed=seeds[k], options=options[k])`` would
    start, so results do not depend on ``batch_size``.
    """
    engine = env.engine
    options = list(options) if options is not None else [None] * len(seeds)
    queue = list(range(len(seeds)))[::-1]
    lanes: list[tuple[int, InterviewEpisode] | None] = [None] * min(batch_size, len(seeds))
    bar = tqdm(total=len(seeds), desc=f"episodes ({policy.name})", disable=not progress)
    observations = np.zeros((len(lanes), *engine.observation_space.shape), np.float32)
    rewards: dict[int, list[float]] = {}

    def fill(lane: int) -> None:
        if not queue:
            lanes[lane] = None
            return
        k = queue.pop()
        episode = start_episode(env, seeds[k], options[k])
        lanes[lane] = (k, episode)
        observations[lane] = engine.observation(episode)
        # What a policy may read: the claim in authentication; in identification the
        # claim is the partner's persona, which only the (cheating) oracle reads.
        policy.begin_episode(lane, episode.claim, int(seeds[k]))

    for lane in range(len(lanes)):
        fill(lane)
    while any(lanes):
        active = [i for i, slot in enumerate(lanes) if slot is not None]
        actions = policy.act(observations[active])
        batch = engine.step([lanes[i][1] for i in active], list(actions))
        observations[active] = batch.observations
        for lane, reward in zip(active, batch.rewards.tolist(), strict=True):
            rewards.setdefault(lanes[lane][0], []).append(reward)
        for lane, terminated in zip(active, batch.terminated, strict=True):
            if terminated:
                k, episode = lanes[lane]
                yield episode_record(engine, episode, seeds[k], policy.name, rewards.pop(k))
                bar.update(1)
                fill(lane)
    bar.close()
