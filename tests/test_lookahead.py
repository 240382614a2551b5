"""The lookahead bound: it replays exactly, and it plays each turn's best code."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import pytest

from convenv.agents.base import DialogContext
from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError
from convenv.identifier import PersonaIdentifier
from convenv.testing import GoalInterviewer, HashingEncoder

PERSONAS = [
    ("i have a dog.", "i work as a nurse.", "i love pizza.", "i play guitar.", "i am married."),
    ("i have a cat.", "i am a teacher.", "i like sushi.", "i listen to jazz.", "i am single."),
    ("i have two kids.", "i drive a truck.", "i love tacos.", "i watch horror movies."),
    ("i travel a lot.", "i am retired.", "i grow tomatoes.", "i vote green."),
]


class DicePartner:
    """Answers with the fact that the turn's seed and the question pick together, so
    which code gets a telling answer is down to the turn's dice."""

    def __init__(self) -> None:
        self.contexts: list[DialogContext] = []

    def respond(self, contexts: Sequence[DialogContext]) -> list[str]:
        self.contexts += contexts
        return [
            c.persona[(c.seed + len(c.history[-1])) % len(c.persona)]
            if (c.seed // 7) % 2
            else "hard to say."
            for c in contexts
        ]


def dice_env(partner: DicePartner | None = None) -> PersonaInterviewEnv:
    return PersonaInterviewEnv(
        partner=partner or DicePartner(),
        interviewer=GoalInterviewer(),
        identifier=PersonaIdentifier(HashingEncoder()),
        personas=PERSONAS,
        max_turns=3,
        task="authentication",
    )


def lookahead_records(env, seeds, batch_size=16):
    from convenv.policies.registry import PolicyContext, make_policies
    from convenv.rollout import run_episodes

    (policy,) = make_policies(["lookahead"], PolicyContext(env))
    return list(run_episodes(env, policy, seeds, None, batch_size, progress=False))


def test_lookahead_episodes_replay_from_their_seed():
    env = dice_env()
    records = lookahead_records(env, range(12))
    for record in records:
        env.reset(seed=record.seed)
        rewards = [env.step(a)[1] for a in record.actions]
        assert rewards == pytest.approx(record.rewards)


def test_lookahead_plays_the_best_code_of_each_turn():
    """Against a straightforward reference: copy the whole env, try every code, keep
    the one whose reward is highest (the lower code on ties)."""
    env = dice_env()
    records = lookahead_records(env, range(10), batch_size=3)
    for record in records:
        env.reset(seed=record.seed)
        for played in record.actions:
            rewards = []
            for code in range(len(env.actions)):
                trial = copy.deepcopy(env)
                rewards.append(trial.step(code)[1])
            assert played == int(np.argmax(rewards)), (record.seed, rewards)
            env.step(played)


def test_lookahead_forks_leave_the_live_episode_alone():
    partner = DicePartner()
    env = dice_env(partner)
    live = env.start_episode(5)
    before = copy.deepcopy(live)
    fork = env.fork(live)
    env.step_episodes([fork], [2])
    assert live.turn == 0 and fork.turn == 1 and live.history == before.history
    (heard,) = partner.contexts
    assert heard.seed == live.seeds[0][1]  # a fork sees the turn's own dice


def test_lookahead_peeks_and_pays():
    env = dice_env()
    peek = lookahead_records(env, range(40))
    from convenv.policies import RandomPolicy
    from convenv.rollout import run_episodes

    blind = list(run_episodes(env, RandomPolicy(len(env.actions), 0), range(40), None, 16, False))
    assert np.mean([sum(r.rewards) for r in peek]) > np.mean([sum(r.rewards) for r in blind])
    assert {r.policy for r in peek} == {"lookahead (cheats)"}


def test_lookahead_cannot_act_on_observations_alone():
    from convenv.policies import LookaheadPolicy

    with pytest.raises(InvalidArgumentError, match="run_episodes"):
        LookaheadPolicy(11).act(np.zeros((1, 3), np.float32))


def test_gap_share_to_a_bound():
    from convenv.training.bench import _gap_cell, _gap_share

    def const(value):
        return lambda idx: value

    assert _gap_share(const(0.95), const(0.94), const(0.98))(np.arange(3)) == pytest.approx(0.25)
    # No gap to close: the share is the limit, signed by what the policy gained.
    assert _gap_share(const(0.95), const(0.94), const(0.93))(np.arange(3)) == float("inf")
    assert _gap_share(const(0.90), const(0.94), const(0.94))(np.arange(3)) == float("-inf")
    assert _gap_cell((float("inf"), 0.1, float("inf")), "best-fixed").startswith("no gap")
    assert _gap_cell((0.25, 0.1, 0.4), "best-fixed") == "0.250 [0.100, 0.400]"


def test_selfplay_writes_the_lookahead_as_cheating(tmp_path):
    from convenv.training.selfplay import read_episodes, selfplay

    selfplay(dice_env(), "lookahead", 4, tmp_path / "sp.jsonl", progress=False)
    assert {r.policy for r in read_episodes(tmp_path / "sp.jsonl")} == {"lookahead (cheats)"}


# The best-fixed search plays each candidate only as far as the turn it scores.


def test_stopped_episodes_are_the_first_turns_of_whole_ones():
    from convenv.policies.simple import FixedSequencePolicy
    from convenv.rollout import run_episodes

    env, seeds = dice_env(), list(range(40))
    policy = FixedSequencePolicy([4, 1, 7], len(env.actions))
    whole = list(run_episodes(env, policy, seeds, None, 16, progress=False))
    stopped = list(run_episodes(env, policy, seeds, None, 16, progress=False, turns=2))
    assert [len(r.actions) for r in stopped] == [2] * len(seeds)
    for w, s in zip(whole, stopped, strict=True):
        assert (s.seed, s.claim, s.genuine) == (w.seed, w.claim, w.genuine)
        assert s.actions == w.actions[:2] and s.utterances == w.utterances[:4]
        assert s.metrics == w.metrics[:2] and s.rewards == w.rewards[:2]
    with pytest.raises(InvalidArgumentError, match="turns=4"):
        next(run_episodes(env, policy, seeds, None, 16, progress=False, turns=4))


def test_the_best_fixed_search_finds_what_whole_episodes_find():
    from convenv.policies.best_fixed import search_fixed_sequence
    from convenv.policies.simple import FixedSequencePolicy
    from convenv.rollout import run_episodes

    env, episodes = dice_env(), 24
    found = search_fixed_sequence(env, episodes, seed=3, progress=False)
    # The reference: every candidate plays whole episodes (the search before it stopped
    # episodes at the scored turn).
    seeds = [3 * 7_919 + k for k in range(episodes)]
    sequence, objective = [], []
    for turn in range(1, env.max_turns + 1):
        values = [
            env.task.objective(
                list(
                    run_episodes(
                        env,
                        FixedSequencePolicy([*sequence, c], 11),
                        seeds,
                        None,
                        64,
                        progress=False,
                    )
                ),
                turn,
            )
            for c in range(len(env.actions))
        ]
        best = max(range(len(values)), key=lambda c: (values[c], -c))
        sequence.append(best)
        objective.append(values[best])
    assert len(set(values)) > 1  # the codes differ, so the search has something to find
    assert (found.sequence, found.objective) == (sequence, objective)
