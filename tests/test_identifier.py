"""The identifier's running scores equal scoring the whole history at once."""

import numpy as np
import pytest

from convenv.identifier import AGGREGATIONS, PersonaIdentifier
from convenv.reference import CandidatePool
from tests.conftest import HashingEncoder

CANDIDATES = [
    ["i have two dogs.", "i work as a nurse.", "i love pizza.", "i live in ohio."],
    ["my wife is a teacher.", "i play guitar.", "i hate the cold.", "i am vegan.", "i ski."],
]
TURNS = [
    ["i have a dog. his name is rex.", "i play the guitar in a band."],
    ["", "i am a nurse! long shifts though."],
    ["we eat pizza every friday.", "my wife teaches school. i ski in winter?"],
]


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
@pytest.mark.parametrize("sentences", [True, False])
def test_hear_equals_scoring_the_whole_history(aggregation, sentences):
    identifier = PersonaIdentifier(HashingEncoder(), aggregation, sentences)
    states = [identifier.begin(c) for c in CANDIDATES]
    np.testing.assert_array_equal(states[0].scores, np.zeros(4))  # nothing said yet
    heard: list[list[str]] = [[], []]
    for turn in TURNS:
        identifier.hear(states, turn)
        for i, utterance in enumerate(turn):
            heard[i].append(utterance)
            expected = identifier.score(heard[i], CANDIDATES[i])
            np.testing.assert_allclose(states[i].scores, expected, rtol=1e-5, atol=1e-6)


def test_given_vectors_are_used_and_pool_embeddings():
    encoder = HashingEncoder()
    identifier = PersonaIdentifier(encoder)
    pool = CandidatePool(CANDIDATES[0] + CANDIDATES[1])
    vectors = pool.embeddings(CANDIDATES[1], encoder)
    np.testing.assert_array_equal(vectors, encoder.encode(CANDIDATES[1]))
    assert pool.embeddings(["not a pool fact."], encoder) is None
    state = identifier.begin(CANDIDATES[1], vectors)
    identifier.hear([state], ["i play guitar."])
    assert int(np.argmax(state.scores)) == 1


def test_hear_rejects_mismatched_lengths():
    identifier = PersonaIdentifier(HashingEncoder())
    with pytest.raises(ValueError, match="2 utterances for 1"):
        identifier.hear([identifier.begin(CANDIDATES[0])], ["a.", "b."])


def test_candidate_pool_draws_distinct_negatives():
    facts = [f"fact {i}." for i in range(200)]
    pool = CandidatePool(facts)
    persona = ("fact 3.", "fact 7.", "my own fact.")  # the last one is not in the pool
    for seed in range(20):
        candidates, truth = pool.sample(persona, 20, np.random.default_rng(seed))
        assert len(candidates) == len(set(candidates)) == 23
        assert sorted(c for c, t in zip(candidates, truth, strict=True) if t) == sorted(persona)
        assert all(c in facts for c, t in zip(candidates, truth, strict=True) if not t)
    again = pool.sample(persona, 20, np.random.default_rng(5))
    same = pool.sample(persona, 20, np.random.default_rng(5))
    assert again[0] == same[0] and np.array_equal(again[1], same[1])
    # A pool barely larger than the persona: every other fact is drawn, none twice.
    small = CandidatePool(["a.", "b.", "c.", "d."])
    candidates, truth = small.sample(("a.",), 20, np.random.default_rng(0))
    assert sorted(candidates) == ["a.", "b.", "c.", "d."] and truth.sum() == 1
