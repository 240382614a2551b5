"""The identifier's running scores equal scoring the whole history at once."""

import numpy as np
import pytest

from convenv.candidates import CandidatePool
from convenv.identifier import AGGREGATIONS, PersonaIdentifier
from convenv.testing import HashingEncoder

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
    rows = np.array([pool.facts.index(c) for c in CANDIDATES[1]])
    vectors = pool.vectors(rows, encoder)
    np.testing.assert_array_equal(vectors, encoder.encode(CANDIDATES[1]))
    assert pool.vectors(np.array([0, -1]), encoder) is None  # -1: a fact outside the pool
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


def test_candidate_rows_index_the_pool():
    encoder = HashingEncoder()
    facts = [f"fact {i}." for i in range(100)]
    pool = CandidatePool(facts)
    candidates, truth, rows = pool.draw(("fact 3.", "fact 9."), 10, np.random.default_rng(2))
    assert [pool.facts[r] for r in rows] == list(candidates)
    np.testing.assert_array_equal(pool.vectors(rows, encoder), encoder.encode(candidates))
    sampled, sampled_truth = pool.sample(("fact 3.", "fact 9."), 10, np.random.default_rng(2))
    assert sampled == candidates and np.array_equal(sampled_truth, truth)  # the same draw
    candidates, _, rows = pool.draw(("fact 3.", "not in the pool."), 10, np.random.default_rng(2))
    assert rows[candidates.index("not in the pool.")] == -1
    assert pool.vectors(rows, encoder) is None  # the identifier embeds such candidates itself


def test_batches_that_change_keep_every_episode_exact():
    """States heard in varying batches (reused, reordered, alone, with a newcomer, with
    0 to 3 sentences each) always hold the whole-history scores, and ``hear`` returns
    them padded."""
    # Random vectors: similarities can be negative, so max(0, ·) would be caught.
    identifier = PersonaIdentifier(RandomEncoder(np.random.default_rng(1)))
    extra = ["i am a pilot.", "i fly planes.", "i have a cat.", "i like jazz."]
    states = [identifier.begin(c) for c in (*CANDIDATES, extra)]
    heard: list[list[str]] = [[], [], []]
    schedule = [
        ([0, 1], ["i have a dog.", "i play guitar. i am vegan. i ski."]),
        ([0, 1], ["", "my wife is a teacher."]),  # same batch again: reused stack
        ([0], ["we like pizza. and ohio."]),  # a batch of one
        ([1, 0], ["it is cold.", "i work long shifts."]),  # reordered
        ([0, 1, 2], ["rex is my dog.", "", "i fly every week. i like jazz."]),  # newcomer
        ([0, 1, 2], ["i am a nurse.", "guitar.", "my cat is old."]),
    ]
    for batch, utterances in schedule:
        scores = identifier.hear([states[i] for i in batch], utterances)
        for row, (i, utterance) in enumerate(zip(batch, utterances, strict=True)):
            heard[i].append(utterance)
            expected = identifier.score(heard[i], states[i].candidates)
            np.testing.assert_allclose(states[i].scores, expected, rtol=1e-5, atol=1e-6)
            k = len(states[i].candidates)
            np.testing.assert_array_equal(scores[row, :k], states[i].scores)
            assert not scores[row, k:].any()  # padding
        for i in set(range(3)) - set(batch):  # episodes not in the batch are untouched
            expected = identifier.score(heard[i], states[i].candidates)
            np.testing.assert_allclose(states[i].scores, expected, rtol=1e-5, atol=1e-6)


def test_scores_do_not_depend_on_the_batch():
    """Bit for bit: an episode heard alone scores what it scores in a mixed batch."""
    rng = np.random.default_rng(0)
    identifier = PersonaIdentifier(RandomEncoder(rng))
    utterances = ["a b. c d. e f.", "g h.", "i j. k l.", "m n.", ""]
    alone = [identifier.begin(c) for c in CANDIDATES * 3][:5]
    together = [identifier.begin(c) for c in CANDIDATES * 3][:5]
    for _ in range(2):
        for state, utterance in zip(alone, utterances, strict=True):
            identifier.hear([state], [utterance])
        identifier.hear(together, utterances)
        for a, b in zip(alone, together, strict=True):
            np.testing.assert_array_equal(a.scores, b.scores)


class RandomEncoder:
    """A fixed random unit vector per text: no ties, and every bit of a sum matters."""

    dim = 48

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng, self.seen = rng, {}

    def encode(self, texts):
        for text in texts:
            if text not in self.seen:
                v = self.rng.standard_normal(self.dim).astype(np.float32)
                self.seen[text] = v / np.linalg.norm(v)
        return np.stack([self.seen[t] for t in texts]) if texts else np.zeros((0, self.dim))
