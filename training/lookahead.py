"""The one-step lookahead bound: it cheats, on purpose, to show what is reachable.

Before each turn it replays the episode from its seed once per code (episodes are
exact replays of their seed and actions), peeks at what every code's answer would
do to the signed reward metric (it knows the partner's truth), and plays the best.
No real policy can do this; a learned policy is judged by how much of the gap from
the best fixed sequence to this bound it closes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
from gymnasium.utils import seeding
from tqdm.auto import tqdm

from convenv.env import PersonaInterviewEnv
from convenv.interview import InterviewEpisode
from convenv.training.rollout import EpisodeRecord, episode_record

NAME = "lookahead (cheats)"


def _value(engine, episode: InterviewEpisode) -> float:
    return episode.sign * episode.metrics[-1][engine.reward_metric]


def lookahead_episodes(
    env: PersonaInterviewEnv,
    seeds: Sequence[int],
    options: Sequence[Mapping | None] | None = None,
    batch_size: int = 256,
    progress: bool = True,
) -> Iterator[EpisodeRecord]:
    """One lookahead episode per seed (the episode ``env.reset(seed, options)`` starts)."""
    engine = env.engine
    options = list(options) if options is not None else [None] * len(seeds)
    n_codes, turns = len(engine.actions), engine.max_turns
    plans: list[list[int]] = [[] for _ in seeds]
    best: dict[int, tuple[float, InterviewEpisode]] = {}
    trials = [(k, code) for k in range(len(seeds)) for code in range(n_codes)]
    bar = tqdm(total=turns * len(trials), desc=NAME, disable=not progress)

    def start(k: int) -> InterviewEpisode:
        rng, _ = seeding.np_random(int(seeds[k]))
        return engine.start(rng, env.personas, env.candidate_pool, options[k])

    for turn in range(turns):
        values = np.full((len(seeds), n_codes), -np.inf)
        for first in range(0, len(trials), batch_size):
            chunk = trials[first : first + batch_size]
            episodes = [start(k) for k, _ in chunk]
            for t in range(turn):  # replay the plan so far
                engine.step(episodes, [plans[k][t] for k, _ in chunk])
            engine.step(episodes, [code for _, code in chunk])
            for (k, code), episode in zip(chunk, episodes, strict=True):
                values[k, code] = _value(engine, episode)
                if turn == turns - 1 and values[k, code] > best.get(k, (-np.inf,))[0]:
                    best[k] = (values[k, code], episode)
            bar.update(len(chunk))
        for k in range(len(seeds)):
            plans[k].append(int(np.argmax(values[k])))  # ties: the lower code
    bar.close()
    for k in range(len(seeds)):
        episode = best[k][1]
        metric = [m[engine.reward_metric] for m in episode.metrics]
        if engine.reward_mode == "delta":
            rewards = np.diff([0.0, *metric]) * episode.sign
        else:
            rewards = np.array([0.0] * (len(metric) - 1) + [metric[-1] * episode.sign])
        yield episode_record(engine, episode, seeds[k], NAME, rewards.tolist())
