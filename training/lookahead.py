"""One-step lookahead bounds: they cheat, on purpose, to show what is reachable.

Before each turn the bound forks every episode once per code, plays that code in the
fork, and plays the code whose fork ends the turn with the best signed reward metric
(it knows the partner's truth). Two bounds differ in what a fork sees:

- ``lookahead (cheats)`` forks with the turn's own seeds, so it sees the answer each
  code *will* get, dice included: which fact a talkative speaker happens to add,
  which of the interviewer's questions comes up.
- ``expected lookahead (knows the truth)`` forks with ``draws`` other seeds for the
  turn and averages: it knows who the partner is (persona, genuine or impostor, how
  talkative it is in this dialog) but not how this turn's dice fall.
- ``lookahead per claim (knows the truth)`` (``per_claim``) must play one code per
  turn for all the episodes of a claimed persona, genuine and impostor alike: the
  code best on average over them (and, with ``draws``, over redrawn dice). It still
  picks using the truth and the very episodes it is scored on, so it is optimistic;
  but like a real policy it cannot ask an impostor something else than a genuine
  partner.
- ``per-claim sequence, fitted elsewhere (cheats)`` (``heldout``) plays, on each
  episode, the codes the per-claim bound chose on *other* episodes of the same claim
  (other seeds: other truths, impostors and dice). What it keeps estimates what a
  claim's best question sequence is worth, without the luck of fitting the scored
  episodes. It is an estimate, not a bound: fitted on few episodes per claim, a good
  heuristic can beat it.

No real policy can do either; a learned policy is judged by how much of the gap from
the best fixed sequence to a bound it closes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError
from convenv.interview import InterviewEpisode
from convenv.policies.simple import ScriptedPolicy
from convenv.training.rollout import EpisodeRecord, episode_record, run_episodes, start_episode

NAME = "lookahead (cheats)"
EXPECTED_NAME = "expected lookahead (knows the truth)"
PER_CLAIM_NAME = "lookahead per claim (knows the truth)"
HELDOUT_NAME = "per-claim sequence, fitted elsewhere (cheats)"
# The held-out bound fits each claim's sequence on the episodes of these seeds
# (offset from the scored ones, so none is shared).
FIT_OFFSET = 7_000_000
# Redrawn seeds per code and turn for the expected bound: 4 gives the mean of the
# signed support to about ±0.02, finer than the gaps between codes it decides.
EXPECTED_DRAWS = 4


def _value(engine, episode: InterviewEpisode) -> float:
    return episode.sign * episode.metrics[-1][engine.reward_metric]


def _fork(episode: InterviewEpisode, seed: int, turn: int, draw: int | None) -> InterviewEpisode:
    """A copy of ``episode`` to try a code in; with ``draw`` this turn's seeds are
    redrawn (reproducibly from the episode's seed, the turn and the draw)."""
    fork = copy.deepcopy(episode)
    if draw is not None:
        redrawn = np.random.default_rng([int(seed), turn, draw]).integers(0, 2**31, size=2)
        fork.seeds = [list(s) for s in fork.seeds]
        fork.seeds[turn] = redrawn.tolist()
    return fork


def lookahead_episodes(
    env: PersonaInterviewEnv,
    seeds: Sequence[int],
    options: Sequence[Mapping | None] | None = None,
    batch_size: int = 256,
    progress: bool = True,
    draws: int = 0,
    per_claim: bool = False,
) -> Iterator[EpisodeRecord]:
    """One lookahead episode per seed (the episode ``env.reset(seed, options)`` starts).

    ``draws=0`` peeks at each code's real answer (``lookahead (cheats)``); ``draws=K``
    averages each code over ``K`` redrawn seeds for the turn (the expected bound).
    ``per_claim`` plays one code per turn for all episodes with the same claim.
    """
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 0:
        raise InvalidArgumentError(f"draws={draws!r}; pass 0 (peek) or a positive count.")
    engine = env.engine
    options = list(options) if options is not None else [None] * len(seeds)
    n_codes, turns = len(engine.actions), engine.max_turns
    tries: list[int | None] = list(range(draws)) if draws else [None]
    trials = [(k, code, d) for k in range(len(seeds)) for code in range(n_codes) for d in tries]
    name = PER_CLAIM_NAME if per_claim else EXPECTED_NAME if draws else NAME
    bar = tqdm(total=turns * len(trials), desc=name, disable=not progress)

    live, rewards = [], [[] for _ in seeds]  # rewards: what the env paid each turn
    for k in range(len(seeds)):
        live.append(start_episode(env, seeds[k], options[k]))
    # Episodes that must play the same code: those of one claim, or each on its own.
    keys = [e.claim for e in live] if per_claim else list(range(len(live)))
    index: dict = {}
    groups = np.array([index.setdefault(key, len(index)) for key in keys])
    for turn in range(turns):
        values = np.zeros((len(seeds), n_codes))
        for first in range(0, len(trials), batch_size):
            chunk = trials[first : first + batch_size]
            forks = [_fork(live[k], seeds[k], turn, d) for k, _, d in chunk]
            engine.step(forks, [code for _, code, _ in chunk])
            for (k, code, _), fork in zip(chunk, forks, strict=True):
                values[k, code] += _value(engine, fork) / len(tries)
            bar.update(len(chunk))
        pooled = np.zeros((groups.max() + 1, n_codes))
        np.add.at(pooled, groups, values)
        plays = pooled[groups].argmax(axis=1)  # ties: the lower code
        for first in range(0, len(live), batch_size):
            chunk = slice(first, first + batch_size)
            paid = engine.step(live[chunk], plays[chunk].tolist()).rewards
            for k, reward in zip(range(len(live))[chunk], paid.tolist(), strict=True):
                rewards[k].append(reward)
    bar.close()
    for k, episode in enumerate(live):
        yield episode_record(engine, episode, seeds[k], name, rewards[k])


def heldout_per_claim_episodes(
    env: PersonaInterviewEnv,
    seeds: Sequence[int],
    options: Sequence[Mapping | None] | None = None,
    batch_size: int = 256,
    progress: bool = True,
    draws: int = 0,
) -> Iterator[EpisodeRecord]:
    """Each claim's codes from the per-claim bound on other episodes of that claim
    (seeds ``FIT_OFFSET`` on, each pinned to the claim of one scored episode), played
    on the episodes of ``seeds``."""
    options = list(options) if options is not None else [None] * len(seeds)
    claims = [start_episode(env, s, o).claim for s, o in zip(seeds, options, strict=True)]
    fit_seeds = [FIT_OFFSET + int(s) for s in seeds]
    fit_options = [{"persona": list(claim)} for claim in claims]
    fitted = lookahead_episodes(env, fit_seeds, fit_options, batch_size, progress, draws, True)
    scripts = {tuple(r.claim): r.actions for r in fitted}
    policy = ScriptedPolicy(scripts, by="claim", name=HELDOUT_NAME)
    return run_episodes(env, policy, seeds, options, batch_size, progress)
