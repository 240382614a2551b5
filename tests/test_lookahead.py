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
