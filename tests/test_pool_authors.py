"""A partner never speaks in the words of people who had its own persona facts."""

from __future__ import annotations

import numpy as np
import pytest

from convenv.agents.base import DialogContext
from convenv.agents.pool_authors import PoolAuthors
from convenv.errors import InvalidArgumentError


def test_responses_of_speakers_sharing_a_fact_are_excluded():
    authors = PoolAuthors(
        [("i have a black lab.", "i like to hike."), ("I've a cat",), (), ("i'm a nurse.",)]
    )
    # Facts compare as a reader would: case, punctuation and contractions aside.
    barred = authors.excluded_responses(("i am a nurse", "i have a dog."))
    assert barred.tolist() == [False, False, False, True]
    # "i've a cat" and "i have a cat." are one fact.
    assert authors.excluded_responses(("i like to hike", "i've a cat")).tolist() == [
        True, True, False, False,
    ]  # fmt: skip


def test_a_sentence_somebody_else_also_wrote_stays():
    authors = PoolAuthors(
        [("i have a black lab.",), ("i like to hike.",), ("i have a black lab.",)]
    )
    # Sentence 0 only by lab owners, sentence 1 by a lab owner and a hiker, 2 by the hiker.
    authors.index_sentences([[0, 1], [1, 2], [0]])
    assert authors.excluded_sentences(("i have a black lab",)).tolist() == [True, False, False]
    assert authors.excluded_sentences(("i like to hike",)).tolist() == [False, False, True]
    assert authors.excluded_sentences(("i sing.",)).tolist() == [False, False, False]


def test_excluded_sentences_match_a_count_over_every_occurrence():
    """The fast path reads only the excluded responses; the reference counts each
    sentence's occurrences in the responses that are kept (none: excluded)."""
    rng = np.random.default_rng(0)
    facts = [f"fact {i}." for i in range(12)]
    written = [
        tuple(rng.choice(facts, size=int(rng.integers(0, 3)), replace=False)) for _ in range(300)
    ]
    held = [rng.integers(0, 80, size=int(rng.integers(0, 4))).tolist() for _ in range(300)]
    authors = PoolAuthors(written)
    authors.index_sentences(held)
    count = 1 + max(i for s in held for i in s)
    for persona in [tuple(rng.choice(facts, size=3, replace=False)) for _ in range(20)]:
        barred = authors.excluded_responses(persona)
        kept = [i for r, s in enumerate(held) if not barred[r] for i in s]
        expected = np.bincount(np.array(kept, np.int64), minlength=count) == 0
        assert authors.excluded_sentences(persona).tolist() == expected.tolist()
        assert barred.any()


def test_bad_authors_are_refused():
    with pytest.raises(InvalidArgumentError, match="authors is empty"):
        PoolAuthors([])
    authors = PoolAuthors([("a.",), ("b.",)])
    with pytest.raises(InvalidArgumentError, match="index_sentences"):
        authors.excluded_sentences(("a.",))
    with pytest.raises(InvalidArgumentError, match="sentence_of_response has 1 rows"):
        authors.index_sentences([[0]])


@pytest.mark.slow
def test_the_default_consistent_partner_never_uses_a_sharers_words(default_components):
    from convenv.agents.consistent_partner import ConsistentPartner
    from convenv.consistency import ConsistencyJudge
    from convenv.defaults import consistent_partner, retrieval_authors, retrieval_pairs
    from convenv.personachat import fact_pool, load_personas
    from convenv.vocabulary import split_sentences

    partner = consistent_partner()
    assert partner.authors is not None
    pairs, written_by = retrieval_pairs(), retrieval_authors()
    assert len(pairs) == len(written_by) == len(default_components.partner.response_texts)
    # The pool's own speakers: their facts are the ones the pool could give away.
    rng = np.random.default_rng(3)
    personas = [written_by[int(i)] for i in rng.choice(len(written_by), 60, replace=False)]
    questions = default_components.interviewer.banked_questions()
    contexts = [
        DialogContext(("hi!", "hello.", questions[int(rng.integers(len(questions)))]), p, seed=k)
        for k, p in enumerate(personas * 4)
    ]
    sentences_by = {}
    for (_, response), author in zip(pairs, written_by, strict=True):
        for sentence in [response, *split_sentences(response)]:
            sentences_by.setdefault(sentence, []).append(author)

    def only_sharers_wrote(sentence: str, persona) -> bool:
        from convenv.vocabulary import normalize_fact

        own = {normalize_fact(f) for f in persona}
        if normalize_fact(sentence) in own:
            return False  # a fact in its own words is the partner's, not a sharer's
        writers = sentences_by.get(sentence, [])
        return bool(writers) and all(own & {normalize_fact(f) for f in w} for w in writers)

    answers = partner.respond(contexts)
    for context, answer in zip(contexts, answers, strict=True):
        assert not only_sharers_wrote(answer, context.persona), answer
        for sentence in split_sentences(answer):
            assert not only_sharers_wrote(sentence, context.persona), sentence
    # Without the authors the same partner does use them: the test can fail.
    judge = ConsistencyJudge(default_components.encoder, fact_pool(load_personas("train")))
    whole_pool = ConsistentPartner(default_components.partner, judge).respond(contexts)
    leaked = sum(
        only_sharers_wrote(s, c.persona)
        for c, a in zip(contexts, whole_pool, strict=True)
        for s in [a, *split_sentences(a)]
    )
    assert leaked >= 10


@pytest.mark.slow
def test_authors_must_match_the_pool(default_components):
    from convenv.agents.consistent_partner import ConsistentPartner

    with pytest.raises(InvalidArgumentError, match="authors has 1 responses"):
        ConsistentPartner(default_components.partner, object(), authors=PoolAuthors([("a.",)]))
