"""Does an answer entail, contradict or say nothing about the speaker's persona?

The judge compares each answer sentence with the speaker's own facts *and* with the
same-topic facts of other personas (the hard negatives of each own fact). An answer
that is about an own fact's topic but matches another persona's version of it
better ("i have a cat" for "i have a dog") contradicts; one that matches the own
fact best entails; anything else is neutral. Its three thresholds are fitted to
``data/consistency.csv`` (300 hand-labelled answers of train-persona episodes); the
fit and its held-out accuracy come from :func:`fit_judge`. The file holds no
Persona-Chat text, only where each piece is: the persona's index among the train
personas and the (dialog, turn, character span) of the question and the answer in
the train dialogs, resolved from the installed ``convogym`` data.

Known blind spot: negation. "i do not have any children" sits close to "i have two
kids" in embedding space, so the judge calls it neutral or even entailment; only a
model that reads both sentences together (an NLI cross-encoder) would catch it.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import numpy as np

from convenv.batching import BoundedCache
from convenv.candidates import CandidatePool
from convenv.data import data_file
from convenv.errors import DataFileError
from convenv.vocabulary import Evidence, PartEvidence, split_sentences

LABELS = ("entail", "neutral", "contradict")
PROFILES = 4096  # personas whose profiles are kept: every train and test persona
CONSISTENCY_SET = data_file("consistency.csv")


@dataclass(frozen=True)
class LabelledAnswer:
    persona: tuple[str, ...]
    question: str
    answer: str
    label: str


COLUMNS = (
    "persona", "question_dialog", "question_turn", "question_start", "question_end",
    "answer_dialog", "answer_turn", "answer_start", "answer_end", "label",
)  # fmt: skip


def read_consistency_set(path: Path | str = CONSISTENCY_SET) -> list[LabelledAnswer]:
    """The hand-labelled rows, their texts resolved from the Persona-Chat train split."""
    from convenv.personachat import load_dialogs, load_personas

    with Path(path).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or tuple(rows[0]) != COLUMNS:
        raise DataFileError(path, "wrong columns", f"a CSV with columns {','.join(COLUMNS)}")
    bad = [i for i, r in enumerate(rows, start=2) if r["label"] not in LABELS]
    if bad:
        raise DataFileError(path, f"unknown labels on lines {bad[:5]}", f"labels {LABELS}")
    personas, dialogs = load_personas("train"), load_dialogs("train")

    def text(row: dict, part: str) -> str:
        dialog, turn, start, end = (
            int(row[f"{part}_{k}"]) for k in ("dialog", "turn", "start", "end")
        )
        return dialogs[dialog].turns[turn][start:end]

    try:
        return [
            LabelledAnswer(
                personas[int(r["persona"])], text(r, "question"), text(r, "answer"), r["label"]
            )
            for r in rows
        ]
    except (IndexError, ValueError) as err:
        raise DataFileError(
            path, f"a reference outside the train split ({err})", "convogym==0.1.2's data"
        ) from err


@dataclass(frozen=True)
class PersonaProfile:
    """What judging an answer against one persona needs, embedded once."""

    facts: np.ndarray  # (facts, dim)
    negatives: tuple[np.ndarray, ...]  # per fact: (others, dim) same-topic facts of others

    def __post_init__(self) -> None:
        # Every fact's negatives in one matrix, so many texts are judged in one product.
        sizes = np.array([len(n) for n in self.negatives], np.int64)
        stacked = np.concatenate([n for n in self.negatives if len(n)] or [self.facts[:0]])
        starts = np.cumsum(np.concatenate([[0], sizes[:-1]])) if len(sizes) else sizes
        object.__setattr__(self, "_stacked", stacked)
        object.__setattr__(self, "_has", sizes > 0)
        # Where each fact that has negatives starts in the stack (strictly increasing).
        object.__setattr__(self, "_starts", starts[sizes > 0])

    def similarities(self, said: np.ndarray) -> np.ndarray:
        """``(facts, sentences)`` cosines of the persona's facts with ``said``."""
        return np.einsum("fd,sd->fs", self.facts, said)

    def part(self, said: np.ndarray, similarity: np.ndarray | None = None) -> PartEvidence:
        """The :class:`PartEvidence` of sentences ``said`` ``(sentences, dim)``
        (``similarity``: their :meth:`similarities`, when already computed)."""
        if similarity is None:
            similarity = self.similarities(said)
        own, other = self.parts(said, np.array([0]), similarity)
        return PartEvidence(own[:, 0], other[:, 0])

    def parts(
        self, said: np.ndarray, starts: np.ndarray, similarity: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The evidence of several texts at once: ``said`` holds their sentences one
        text after another, text ``t`` from row ``starts[t]``; returns ``(own, other)``,
        each ``(facts, texts)`` (see :class:`PartEvidence`)."""
        if similarity is None:
            similarity = self.similarities(said)
        own = np.maximum.reduceat(similarity, starts, axis=1)
        other = np.full(own.shape, -1.0, np.float32)
        if len(self._stacked):
            versions = np.einsum("kd,sd->ks", self._stacked, said)
            per_text = np.maximum.reduceat(versions, starts, axis=1)  # (versions, texts)
            per_fact = np.maximum.reduceat(per_text, self._starts, axis=0)  # (facts, texts)
            other[self._has] = per_fact
        return own, other

    def evidence(self, said: np.ndarray) -> Evidence:
        """Evidence of answer sentences ``said`` ``(sentences, dim)``."""
        return self.part(said).evidence()


class ConsistencyJudge:
    """Entail / neutral / contradict from sentence embeddings.

    Args:
        encoder: Unit-vector sentence encoder (``encode``).
        facts: The fact pool other personas' same-topic facts come from (train facts).
        entail: Own-fact similarity from which an answer states the fact.
        topic: Similarity from which an answer is about a fact's topic at all.
        margin: How much closer another persona's fact must be to count as a contradiction.
    """

    def __init__(
        self,
        encoder,
        facts: Sequence[str],
        # Fitted to data/consistency.csv (fit_judge); benchmarks/consistency_judge.py
        # prints how well they do on answers they were not fitted on.
        entail: float = 0.4,
        topic: float = 0.65,
        margin: float = 0.13,
    ) -> None:
        self.encoder = encoder
        self.pool = CandidatePool(facts)
        self.entail, self.topic, self.margin = entail, topic, margin
        self._profiles: BoundedCache[tuple[str, ...], PersonaProfile] = BoundedCache(PROFILES)
        self._negatives: BoundedCache[str, np.ndarray] = BoundedCache(8 * PROFILES)
        self._negative_row_cache: dict[str, np.ndarray] = {}

    def profile(self, persona: Sequence[str]) -> PersonaProfile:
        """The persona's fact vectors and each fact's other-persona same-topic facts
        (cached per persona: a partner keeps its persona all dialog long)."""
        key = tuple(persona)
        found = self._profiles.get(key)
        if found is None:
            vectors = self.encoder.encode(list(key))
            mine = set(key)
            negatives = []
            for fact in key:
                rows = [r for r in self._negative_rows(fact) if self.pool.facts[r] not in mine]
                negatives.append(self.pool.vectors(np.array(rows, dtype=np.int64), self.encoder))
            found = self._profiles.put(key, PersonaProfile(vectors, tuple(negatives)))
        return found

    def fact_negatives(self, fact: str) -> np.ndarray:
        """``(others, dim)``: the same-topic facts of other personas for one fact
        (paraphrases of it left out), embedded; cached per fact."""
        found = self._negatives.get(fact)
        if found is None:
            found = self._negatives.put(
                fact, self.pool.vectors(self.fact_negative_rows(fact), self.encoder)
            )
        return found

    def fact_negative_rows(self, fact: str) -> np.ndarray:
        """Pool rows (of ``self.pool``) of :meth:`fact_negatives` (kept per fact)."""
        found = self._negative_row_cache.get(fact)
        if found is None:
            found = self._negative_row_cache[fact] = np.array(
                self._negative_rows(fact), dtype=np.int64
            )
        return found

    def _negative_rows(self, fact: str) -> list[int]:
        """Pool rows of the other-persona facts nearest ``fact`` (its paraphrases and
        the fact itself left out). Their vectors come from the pool's own matrix, so a
        new persona costs no encoder call for them."""
        rows = self.pool.nearest_rows([fact], self.encoder)
        return [r for r in rows if self.pool.facts[r] != fact]

    def contradicted(self, own: np.ndarray, other: np.ndarray) -> np.ndarray:
        """Element-wise: does a sentence with similarity ``own`` to a fact and ``other``
        to that fact's nearest other-persona version contradict the fact?"""
        return (np.maximum(own, other) >= self.topic) & (other - own > self.margin)

    def sentence_vectors(self, answer: str) -> np.ndarray:
        return self.encoder.encode(list(split_sentences(answer)) or [answer])

    def evidence(self, persona: Sequence[str], answer: str) -> Evidence:
        return self.profile(persona).evidence(self.sentence_vectors(answer))

    def decide(self, evidence: Evidence) -> str:
        if max(evidence.own, evidence.other) < self.topic:
            return "neutral"  # not about any of the persona's topics
        if self.contradicted(evidence.own, evidence.other):
            return "contradict"
        return "entail" if evidence.own >= self.entail else "neutral"

    def judge(self, persona: Sequence[str], answer: str) -> str:
        return self.decide(self.evidence(persona, answer))


def scores(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """Accuracy, macro-F1 over the three labels, and contradiction recall and precision."""
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    f1 = []
    for label in LABELS:
        said, real = predicted == label, truth == label
        hits = (said & real).sum()
        precision, recall = hits / max(said.sum(), 1), hits / max(real.sum(), 1)
        f1.append(0.0 if hits == 0 else 2 * precision * recall / (precision + recall))
    said, real = predicted == "contradict", truth == "contradict"
    return {
        "accuracy": float((truth == predicted).mean()),
        "macro_f1": float(np.mean(f1)),
        "contradiction_recall": float((said & real).sum() / max(real.sum(), 1)),
        "contradiction_precision": float((said & real).sum() / max(said.sum(), 1)),
    }


def fit_judge(judge: ConsistencyJudge, rows: Sequence[LabelledAnswer]) -> dict[str, float]:
    """Fit the thresholds on ``rows`` (grid search for macro-F1: every label counts,
    not just the common neutral one) and set them; returns the fitted values and
    their scores on ``rows``."""
    evidence = [judge.evidence(r.persona, r.answer) for r in rows]
    truth = [r.label for r in rows]
    best, best_value = None, -np.inf
    grid = product(
        np.arange(0.4, 0.85, 0.025), np.arange(0.3, 0.7, 0.025), np.arange(-0.05, 0.15, 0.01)
    )
    for entail, topic, margin in grid:
        judge.entail, judge.topic, judge.margin = entail, topic, margin
        s = scores(truth, [judge.decide(e) for e in evidence])
        value = s["macro_f1"]
        if value > best_value:
            best, best_value = (entail, topic, margin), value
    judge.entail, judge.topic, judge.margin = (float(v) for v in best)
    fitted = scores(truth, [judge.decide(e) for e in evidence])
    return {"entail": judge.entail, "topic": judge.topic, "margin": judge.margin, **fitted}
