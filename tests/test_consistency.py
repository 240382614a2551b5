"""The consistency judge: hand-written pairs and the labelled set it is fitted to."""

from __future__ import annotations

import numpy as np
import pytest

from convenv.consistency import LABELS, ConsistencyJudge, read_consistency_set, scores
from convenv.personachat import fact_pool, load_personas

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def judge(default_components):
    return ConsistencyJudge(default_components.encoder, fact_pool(load_personas("train")))


@pytest.mark.parametrize(
    ("persona", "answer", "label"),
    [
        (
            ("i have a black lab.", "i work as a nurse."),
            "i have a dog, a black labrador.",
            "entail",
        ),
        (("i work as a nurse.", "i love pizza."), "i am a nurse at the hospital.", "entail"),
        (("i have a dog.", "i drive a truck."), "i have two cats.", "contradict"),
        (("i am a vegan.", "i love to swim."), "i eat steak every day, i love meat.", "contradict"),
        (("i have a black lab.", "i work as a nurse."), "the weather is nice today.", "neutral"),
    ],
)
def test_hand_written_pairs(judge, persona, answer, label):
    assert judge.judge(persona, answer) == label


def test_labelled_set_is_well_formed_and_the_judge_beats_the_majority(judge):
    rows = read_consistency_set()
    assert len(rows) >= 300 and {r.label for r in rows} == set(LABELS)
    test_facts = {f for p in load_personas("test") for f in p}
    assert not any(set(r.persona) <= test_facts for r in rows)  # train personas only
    truth = [r.label for r in rows]
    judged = scores(truth, [judge.judge(r.persona, r.answer) for r in rows])
    majority = scores(truth, ["neutral"] * len(rows))
    assert judged["macro_f1"] > majority["macro_f1"] + 0.2
    assert judged["contradiction_recall"] >= 0.4


def test_filtered_identifier_gives_no_credit_for_a_contradiction(judge, default_components):
    from convenv.identifier import PersonaIdentifier

    plain = PersonaIdentifier(default_components.encoder)
    filtered = PersonaIdentifier(default_components.encoder, judge=judge)
    candidates = ("i have a dog.", "i drive a truck.", "i like to swim.")
    cats = plain.score(["i have two cats."], candidates)
    assert cats[0] > 0.5  # same topic: the plain identifier pays for it
    assert filtered.score(["i have two cats."], candidates)[0] == -1.0
    dog = ["i have a dog named max, he is a good boy."]
    np.testing.assert_allclose(filtered.score(dog, candidates), plain.score(dog, candidates))


@pytest.mark.parametrize("aggregation", ["max", "top2"])
def test_filtered_identifier_hears_as_it_scores(judge, default_components, aggregation):
    from convenv.identifier import PersonaIdentifier

    identifier = PersonaIdentifier(default_components.encoder, aggregation, judge=judge)
    candidates = [("i have a dog.", "i like to swim."), ("i am a nurse.", "i love pizza.", "x.")]
    said = [
        ["i have two cats.", "i swim every day. i love it."],
        ["i work as a teacher.", "pizza is the best!"],
    ]
    states = [identifier.begin(c) for c in candidates]
    for turn in range(2):
        identifier.hear(states, [s[turn] for s in said])
        for state, s, c in zip(states, said, candidates, strict=True):
            np.testing.assert_allclose(
                state.scores, identifier.score(s[: turn + 1], c), rtol=1e-5, atol=1e-6
            )
