"""Rank candidate persona facts by how well they match what the partner said."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate

import numpy as np

from convenv.batching import BoundedCache, LastBatch, padded_stack
from convenv.errors import InvalidArgumentError
from convenv.vocabulary import split_sentences

AGGREGATIONS = ("max", "mean", "softmax", "top2")
HOT_SENTENCES = 200_000  # distinct sentences whose near pool facts are kept


@dataclass(eq=False)  # compared by identity: it is one episode's mutable state
class Identification:
    """One episode's running identification, updated by :meth:`PersonaIdentifier.hear`.

    The candidates are embedded at the first ``hear`` (batched with the other
    episodes' texts); ``scores`` always equal :meth:`PersonaIdentifier.score` over
    everything heard so far (zeros before anything was said). With the "max"
    aggregation ``vectors`` and ``scores`` may be views of arrays shared by a batch.
    """

    candidates: tuple[str, ...]
    vectors: np.ndarray | None = None  # (n_candidates, dim) once begun
    similarities: np.ndarray | None = None  # (n_candidates, n_sentences), unless "max"
    heard: int = 0  # sentences heard
    # With a judge: each candidate's other-persona versions, as rows of the judge's
    # fact pool (-1 pads).
    negative_index: np.ndarray | None = None  # (n_candidates, most) int
    # The same rows as a mask over the judge's fact pool (made at the first sentence
    # near any pool fact): a sentence near none of them contradicts no candidate.
    negative_mask: np.ndarray | None = None
    scores: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.scores = np.zeros(len(self.candidates), np.float32)


class PersonaIdentifier:
    """Zero-shot identifier: cosine similarity of sentence embeddings, aggregated.

    Each candidate fact is compared with every sentence the partner said; the
    similarities are reduced to one score per fact by ``aggregation``:
    ``max`` (the best-matching sentence), ``mean``, ``top2`` (mean of the two best)
    or ``softmax`` (a temperature-0.05 log-sum-exp, a soft maximum).

    With a ``judge`` (:class:`~convenv.consistency.ConsistencyJudge`), a sentence
    that contradicts a candidate fact ("i have a cat" for "i have a dog": closer to
    another persona's version of the fact than to the fact) is no evidence for it:
    its similarity counts as -1, so neither the ranking nor a reward built on the
    scores pays for contradictions.

    Args:
        encoder: Anything with ``encode(texts) -> (n, dim)`` unit vectors and ``dim``.
        aggregation: How sentence similarities become a fact score.
        sentences: Split utterances into sentences before scoring.
        judge: Leave out sentences that contradict a fact (see above).
    """

    def __init__(
        self, encoder, aggregation: str = "max", sentences: bool = True, judge=None
    ) -> None:
        if aggregation not in AGGREGATIONS:
            raise InvalidArgumentError(f"aggregation={aggregation!r}; pass one of {AGGREGATIONS}.")
        self.encoder = encoder
        self.judge = judge
        self.aggregation = aggregation
        self.sentences = sentences
        self._stacked = LastBatch(self._stack, self._stack_one)
        # sentence -> the judge's pool facts it is near enough to be contradicted by.
        self._hot_cache: BoundedCache[str, tuple[np.ndarray, np.ndarray]]
        self._hot_cache = BoundedCache(HOT_SENTENCES)
        self._hot_floor: float | None = None

    @property
    def dim(self) -> int:
        return int(self.encoder.dim)

    def _units(self, utterances: Sequence[str]) -> list[str]:
        if not self.sentences:
            return [u for u in utterances if u.strip()]
        return [s for u in utterances for s in split_sentences(u)]

    def warm(self, utterances: Sequence[str], facts: Sequence[str] = ()) -> None:
        """Embed everything a partner may say (and every candidate fact) ahead of time.

        With a fixed answer pool this moves all encoding out of ``env.step``: the
        cached corpus is loaded from disk on later runs.
        """
        units = list(dict.fromkeys(u for u in self._units(utterances)))
        self.encoder.encode_corpus(units, desc="answer sentences")
        if facts:
            self.encoder.encode_corpus(list(dict.fromkeys(facts)), desc="persona facts")

    def score_batch(
        self, utterances: Sequence[Sequence[str]], candidates: Sequence[Sequence[str]]
    ) -> list[np.ndarray]:
        """Scores for several episodes with one encoder call for all their texts."""
        if len(utterances) != len(candidates):
            raise InvalidArgumentError(
                f"{len(utterances)} utterance lists but {len(candidates)} candidate lists."
            )
        units = [self._units(u) for u in utterances]
        texts = list(dict.fromkeys(t for group in (*units, *candidates) for t in group))
        vectors = self.encoder.encode(texts) if texts else np.zeros((0, self.dim), np.float32)
        row = {t: i for i, t in enumerate(texts)}
        out = []
        for said, cands in zip(units, candidates, strict=True):
            facts, heard = vectors[[row[t] for t in cands]], vectors[[row[t] for t in said]]
            if len(heard) == 0:
                out.append(np.zeros(len(cands), dtype=np.float32))
            elif self.judge is None:
                out.append(self._aggregate_similarities(facts @ heard.T))
            else:
                state = Identification(
                    tuple(cands), facts, negative_index=self._negative_table(cands)
                )
                judged = [self._judged(state, t, v) for t, v in zip(said, heard, strict=True)]
                out.append(self._aggregate_similarities(np.stack(judged, axis=1)))
        return out

    def begin(self, candidates: Sequence[str], vectors: np.ndarray | None = None) -> Identification:
        """The state of a new episode; its candidates are embedded at its first :meth:`hear`
        unless their ``vectors`` (from this identifier's encoder) are given."""
        return Identification(tuple(candidates), vectors)

    def hear(self, states: Sequence[Identification], utterances: Sequence[str]) -> np.ndarray:
        """Add one new utterance per episode and update each episode's ``scores``.

        One encoder call embeds the new sentences of every episode (and the candidates
        of episodes just begun); only new sentences are compared, so turn 8 costs what
        turn 1 does. Returns every episode's scores as one ``(N, most candidates)``
        array, zero-padded.
        """
        if len(states) != len(utterances):
            raise InvalidArgumentError(
                f"{len(utterances)} utterances for {len(states)} identification states."
            )
        if not states:
            return np.zeros((0, 0), np.float32)
        if self.sentences:
            units = [split_sentences(u) for u in utterances]
        else:
            units = [(u,) if u.strip() else () for u in utterances]
        fresh = [state for state in states if state.vectors is None]
        # Fresh candidates first, then each episode's sentences: every group is a
        # contiguous slice of one encoder call (views, no gathering).
        texts = [t for state in fresh for t in state.candidates]
        texts += [t for group in units for t in group]
        vectors = self.encoder.encode(texts) if texts else np.zeros((0, self.dim), np.float32)
        start = 0
        for state in fresh:
            state.vectors = vectors[start : start + len(state.candidates)]
            start += len(state.candidates)
        counts = [len(group) for group in units]
        if self.judge is not None:
            for state in states:
                if state.negative_index is None:
                    state.negative_index = self._negative_table(state.candidates)
        said = [t for group in units for t in group]
        if self.aggregation == "max":
            scores = self._hear_max(states, counts, said, vectors[start:])
        else:
            scores = self._hear_each(states, counts, said, vectors[start:])
        for state, count in zip(states, counts, strict=True):
            state.heard += count
        return scores

    @staticmethod
    def _stack_one(state: Identification) -> tuple[np.ndarray, np.ndarray]:
        return state.vectors[None], state.scores[None]

    def _stack(self, states: Sequence[Identification]) -> tuple[np.ndarray, np.ndarray]:
        """The states' candidate vectors ``(N, most, dim)`` and scores ``(N, most)``,
        zero-padded; each state's ``vectors`` and ``scores`` become views of its row,
        so updating the stack updates every state at once."""
        vectors = padded_stack([state.vectors for state in states], np.float32)
        scores = padded_stack([state.scores for state in states], np.float32)
        for i, state in enumerate(states):
            k = len(state.candidates)
            state.vectors, state.scores = vectors[i, :k], scores[i, :k]
        return vectors, scores

    def _negative_table(self, candidates: Sequence[str]) -> np.ndarray:
        """``(n_candidates, most)``: each candidate's other-persona versions as rows of
        the judge's fact pool, -1 padded."""
        rows = [self.judge.fact_negative_rows(c) for c in candidates]
        sizes = np.array([len(r) for r in rows], np.intp)
        index = np.full((len(candidates), int(sizes.max(initial=0))), -1, np.intp)
        if index.size:
            index[np.arange(index.shape[1]) < sizes[:, None]] = np.concatenate(rows)
        return index

    def _hot(self, text: str, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, similarities)``: the judge's pool facts near enough sentence ``text``
        to contradict through (one product with the pool per distinct sentence, kept:
        a partner's sentences come back episode after episode)."""
        # A contradiction needs max(own, other) >= topic and other > own + margin, so
        # an other-persona version below topic + min(margin, 0) never makes one.
        floor = self.judge.topic + min(self.judge.margin, 0.0)
        if floor != self._hot_floor:  # the judge was refitted
            self._hot_cache.clear()
            self._hot_floor = floor
        found = self._hot_cache.get(text)
        if found is None:
            similarity = self.judge.pool.matrix(self.judge.encoder) @ vector
            rows = np.flatnonzero(similarity >= floor)
            found = self._hot_cache.put(text, (rows, similarity[rows]))
        return found

    def _judged(self, state: Identification, text: str, vector: np.ndarray) -> np.ndarray:
        """One episode's similarities to one sentence, -1 where the sentence contradicts
        a candidate (it is nearer one of the candidate's other-persona versions). Only
        the episode's own arrays and the sentence's own pool similarities take part,
        so its scores never depend on which episodes share its batch."""
        own = state.vectors @ vector
        rows, similarity = self._hot(text, vector)
        if not len(rows):  # near no other persona's fact: contradicts nothing
            return own
        index = state.negative_index
        if state.negative_mask is None:
            state.negative_mask = np.zeros(len(self.judge.pool.facts), bool)
            state.negative_mask[index[index >= 0]] = True
        if not state.negative_mask[rows].any():  # near none of the candidates' versions
            return own
        at = np.minimum(np.searchsorted(rows, index), len(rows) - 1)
        near = rows[at] == index  # (candidates, versions): versions near the sentence
        other = np.where(near, similarity[at], np.float32(-1.0)).max(axis=1)
        contradicts = near.any(axis=1) & self.judge.contradicted(own, other)
        return np.where(contradicts, np.float32(-1.0), own)

    def _hear_max(
        self,
        states: Sequence[Identification],
        counts: list[int],
        texts: Sequence[str],
        said: np.ndarray,
    ) -> np.ndarray:
        """A running maximum (the maximum over all sentences) for the whole batch at once;
        with a judge, of the similarities it does not find contradicted."""
        candidates, scores = self._stacked(states)
        # Nothing heard before: the scores are the new sentences' alone, not max(0, ·).
        first = [i for i, state in enumerate(states) if state.heard == 0 and counts[i]]
        if first:
            scores[first] = -np.inf
        offsets = list(accumulate(counts, initial=0))
        if self.judge is not None:
            for i, state in enumerate(states):
                row = scores[i, : len(state.candidates)]
                for k in range(offsets[i], offsets[i + 1]):
                    np.maximum(row, self._judged(state, texts[k], said[k]), out=row)
            return scores.copy()
        # einsum's own loops (not BLAS, whose kernels change with the batch's shape) sum
        # every product in one order, so an episode's scores never depend on which
        # episodes share its batch.
        fewest = min(counts)
        for j in range(fewest):  # sentence j of every episode: one batched product
            sentence = said if len(said) == len(states) else said[[o + j for o in offsets[:-1]]]
            np.maximum(scores, np.einsum("ncd,nd->nc", candidates, sentence), out=scores)
        for i, count in enumerate(counts):  # the rest of the longer answers, one by one
            for k in range(offsets[i] + fewest, offsets[i] + count):
                own = np.einsum("ncd,nd->nc", candidates[i : i + 1], said[k][None])
                np.maximum(scores[i], own[0], out=scores[i])
        return scores.copy()

    def _hear_each(
        self,
        states: Sequence[Identification],
        counts: list[int],
        texts: Sequence[str],
        said: np.ndarray,
    ) -> np.ndarray:
        """Episode by episode: aggregations other than "max" keep every similarity, and
        a judge needs each episode's own negatives (then "max" is a running maximum)."""
        start = 0
        for state, count in zip(states, counts, strict=True):
            if not count:
                continue
            chunk, words = said[start : start + count], texts[start : start + count]
            start += count
            if self.judge is None:
                sims = state.vectors @ chunk.T
            else:
                judged = [self._judged(state, t, v) for t, v in zip(words, chunk, strict=True)]
                sims = np.stack(judged, axis=1)
            if self.aggregation == "max":
                new = sims.max(axis=1)
                state.scores = new if state.heard == 0 else np.maximum(state.scores, new)
                continue
            if state.similarities is not None:
                sims = np.concatenate([state.similarities, sims], axis=1)
            state.similarities = sims
            state.scores = self._aggregate_similarities(sims)
        return padded_stack([state.scores for state in states], np.float32)

    def score(self, utterances: Sequence[str], candidates: Sequence[str]) -> np.ndarray:
        """One score per candidate for one episode (zeros when nothing was said)."""
        return self.score_batch([utterances], [candidates])[0]

    def _aggregate_similarities(self, sims: np.ndarray) -> np.ndarray:
        """``(n_candidates, n_sentences)`` similarities → one score per candidate."""
        if self.aggregation == "max":
            return sims.max(axis=1)
        if self.aggregation == "mean":
            return sims.mean(axis=1)
        if self.aggregation == "top2":
            k = min(2, sims.shape[1])
            return np.sort(sims, axis=1)[:, -k:].mean(axis=1)
        temperature = 0.05
        peak = sims.max(axis=1, keepdims=True)
        return peak[:, 0] + temperature * np.log(np.exp((sims - peak) / temperature).sum(axis=1))
