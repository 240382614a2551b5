"""The lookahead bounds: exact replays, and the expected bound does not see the dice."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from convenv.agents.base import DialogContext
from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError
from convenv.identifier import PersonaIdentifier
from convenv.testing import GoalInterviewer, HashingEncoder
from convenv.training.lookahead import _fork, lookahead_episodes

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


@pytest.mark.parametrize("draws", [0, 3])
def test_lookahead_episodes_replay_from_their_seed(draws):
    env = dice_env()
    records = list(lookahead_episodes(env, range(12), progress=False, draws=draws))
    for record in records:
        env.reset(seed=record.seed)
        rewards = [env.step(a)[1] for a in record.actions]
        assert rewards == pytest.approx(record.rewards)


def test_fork_redraws_the_turn_not_the_partner():
    partner = DicePartner()
    env = dice_env(partner)
    env.reset(seed=5)
    live = env.episode
    seeds_before = [list(s) for s in live.seeds]
    fork = _fork(live, 5, 0, 1)
    assert fork.seeds[0] != live.seeds[0] and fork.seeds[1:] == live.seeds[1:]
    assert _fork(live, 5, 0, 1).seeds == fork.seeds != _fork(live, 5, 0, 2).seeds
    env.engine.step([fork], [2])
    # The fork's partner rolled other dice but is the same speaker (dialog seed) ...
    (heard,) = partner.contexts
    assert heard.seed == fork.seeds[0][1] != live.seeds[0][1]
    assert heard.dialog_seed == live.dialog_seed == seeds_before[0][1]
    # ... and the live episode did not move.
    assert live.seeds == seeds_before and live.turn == 0 and fork.turn == 1


def test_expected_bound_cannot_pick_the_lucky_code():
    env = dice_env()
    seeds = range(40)
    peek = list(lookahead_episodes(env, seeds, progress=False))
    expected = list(lookahead_episodes(env, seeds, progress=False, draws=4))
    assert sum(a.actions != b.actions for a, b in zip(peek, expected, strict=True)) > 10
    # Peeking at the dice pays; knowing only who the partner is pays less.
    assert np.mean([sum(r.rewards) for r in peek]) > np.mean([sum(r.rewards) for r in expected])
    assert {r.policy for r in expected} == {"expected lookahead (knows the truth)"}


def test_draws_must_be_a_count():
    with pytest.raises(InvalidArgumentError, match="draws"):
        next(lookahead_episodes(dice_env(), [0], progress=False, draws=-1))


def test_bench_plays_the_expected_bound_by_name():
    from convenv.training.bench import play
    from convenv.training.lookahead import EXPECTED_DRAWS
    from convenv.training.policy_specs import make_policies

    env = dice_env()
    (bound,) = make_policies(["lookahead-expected"], env)
    assert bound.draws == EXPECTED_DRAWS
    records = play(env, bound, [3, 1, 2], None, 16, False)
    assert [r.seed for r in records] == [3, 1, 2]
    direct = list(lookahead_episodes(env, [3, 1, 2], progress=False, draws=EXPECTED_DRAWS))
    assert [r.actions for r in records] == [r.actions for r in direct]


def test_per_claim_bound_asks_genuine_and_impostor_the_same():
    env = dice_env()
    seeds = list(range(32))
    options = [{"persona_index": k % 4} for k in seeds]
    records = list(lookahead_episodes(env, seeds, options, progress=False, draws=2, per_claim=True))
    by_claim: dict[tuple, set] = {}
    for record in records:
        by_claim.setdefault(tuple(record.claim), set()).add(tuple(record.actions))
    assert len(by_claim) == 4 and all(len(plays) == 1 for plays in by_claim.values())
    assert {r.genuine for r in records} == {True, False}
    # Free to treat each episode on its own, the bound asks some episodes otherwise.
    alone = list(lookahead_episodes(env, seeds, options, progress=False, draws=2))
    assert any(a.actions != b.actions for a, b in zip(records, alone, strict=True))
    assert {r.policy for r in records} == {"lookahead per claim (knows the truth)"}


def test_heldout_per_claim_plays_codes_fitted_on_other_episodes():
    from convenv.training.lookahead import FIT_OFFSET, heldout_per_claim_episodes

    env = dice_env()
    seeds = list(range(16))
    options = [{"persona_index": k % 4} for k in seeds]
    scored = list(heldout_per_claim_episodes(env, seeds, options, progress=False, draws=2))
    pinned = [{"persona": list(PERSONAS[k % 4])} for k in seeds]
    fitted = lookahead_episodes(
        env, [FIT_OFFSET + s for s in seeds], pinned, progress=False, draws=2, per_claim=True
    )
    script = {tuple(r.claim): r.actions for r in fitted}
    assert [r.seed for r in scored] == seeds
    assert all(r.actions == script[tuple(r.claim)] for r in scored)
    # Fitted on the scored episodes themselves, the per-claim bound plays otherwise.
    in_sample = list(
        lookahead_episodes(env, seeds, options, progress=False, draws=2, per_claim=True)
    )
    assert any(a.actions != b.actions for a, b in zip(scored, in_sample, strict=True))
    # Claims drawn at random (as when thresholds are calibrated) are fitted as well.
    drawn = list(heldout_per_claim_episodes(env, range(20, 30), None, progress=False))
    assert {tuple(r.claim) for r in drawn} <= set(PERSONAS) and len(drawn) == 10


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


@pytest.mark.parametrize("spec", ["lookahead", "lookahead-per-claim", "per-claim-heldout"])
def test_selfplay_refuses_the_bounds_by_name(tmp_path, spec):
    from convenv.training.selfplay import selfplay

    with pytest.raises(InvalidArgumentError, match=f"'{spec}' is offered by convenv bench only"):
        selfplay(dice_env(), spec, 4, tmp_path / "sp.jsonl", progress=False)
