"""Zero-shot goal check: does a question fit its action code?

The judge embeds each code's description and scores a question by a softmax over
all codes of its similarity to them: ``confidence(question, code)`` is the
probability that ``code`` is the question's topic. Active learning shows the person
the proposals with the lowest confidence first.

Confidence alone is not enough to accept a proposal without a person: an
interviewer whose question banks were labelled by the same similarity to the code
descriptions is, by construction, confident about everything it proposes (0.98-1.00,
off-code questions included). :meth:`GoalJudge.auto_acceptable` therefore also asks
a second, example-based signal about the part that asks: the codes of the
hand-labelled questions (``data/goal_questions.csv``) nearest the proposal's
question clause ("i love to travel as well, *what else do you like to do?*") must
agree with the proposal's code.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from convenv.actions import ActionCode, ActionSet, code_from_string
from convenv.data import data_file
from convenv.errors import InvalidArgumentError

GOAL_QUESTIONS = data_file("goal_questions.csv")


_QUESTION_START = re.compile(
    r"^(what|which|who|whom|whose|where|when|why|how|do|does|did|are|is|was|were|have|has|"
    r"had|can|could|would|will|should|any|so)\b"
)


def question_clause(text: str) -> str:
    """The part of an utterance that asks: its last sentence, and of that the clause
    after the last comma when the clause starts like a question."""
    sentences = [t.strip() for t in re.split(r"(?<=[.!?])\s+", text.strip()) if t.strip()]
    last = next(
        (t for t in reversed(sentences) if t.endswith("?")), sentences[-1] if sentences else ""
    )
    clause = last.rsplit(",", 1)[-1].strip()
    return clause if clause != last and _QUESTION_START.match(clause) else last


class GoalJudge:
    """Scores how well questions fit action codes, with a sentence encoder.

    Args:
        encoder: The sentence encoder (``encode`` → unit vectors).
        actions: The known codes; codes first seen in :meth:`confidence` are added.
        temperature: Softmax temperature over cosine similarities.
    """

    def __init__(self, encoder, actions: ActionSet | None = None, temperature: float = 0.05):
        self.encoder = encoder
        self.temperature = temperature
        self.codes: list[ActionCode] = list(actions if actions is not None else ActionSet())
        self._vectors = self._describe(self.codes)
        self._examples: tuple[np.ndarray, list[str]] | None = None

    def _describe(self, codes: Sequence[ActionCode]) -> np.ndarray:
        # Label and description together: the label names the topic, the description
        # phrases it as a question (closer to what is being judged).
        labels = self.encoder.encode([c.label for c in codes])
        described = self.encoder.encode([c.description for c in codes])
        vectors = labels + described
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def _index(self, code: str) -> int:
        for i, c in enumerate(self.codes):
            if code in (c.prompt, c.label):
                return i
        new = code_from_string(code)
        self.codes.append(new)
        self._vectors = np.vstack([self._vectors, self._describe([new])])
        return len(self.codes) - 1

    def probabilities(self, questions: Sequence[str]) -> np.ndarray:
        """``(len(questions), n_codes)``: P(code | question)."""
        logits = self.encoder.encode(list(questions)) @ self._vectors.T / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=1, keepdims=True)

    def confidence(self, questions: Sequence[str], codes: Sequence[str]) -> np.ndarray:
        """P(code | question) for each (question, code) pair."""
        columns = [self._index(c) for c in codes]
        probs = self.probabilities(questions)
        return probs[np.arange(len(questions)), columns]

    def predict(self, questions: Sequence[str]) -> list[str]:
        """The most likely code prompt of each question."""
        return [self.codes[i].prompt for i in self.probabilities(questions).argmax(axis=1)]

    def review_order(self, questions: Sequence[str], codes: Sequence[str]) -> list[int]:
        """Indices of proposals, most doubtful first (uncertainty sampling)."""
        return [int(i) for i in np.argsort(self.confidence(questions, codes), kind="stable")]

    def calibrate(self, questions: Sequence[str], codes: Sequence[str]) -> float:
        """Fit the softmax temperature to hand-labelled questions (least negative
        log-likelihood of their codes over a grid) and use it; returns it.

        Uncalibrated, a sharp temperature calls nearly every proposal 0.99 sure, so
        an auto-accept threshold would let off-code questions through.
        """
        columns = np.array([self._index(c) for c in codes])
        cosines = self.encoder.encode(list(questions)) @ self._vectors.T
        best, best_loss = self.temperature, np.inf
        for temperature in np.geomspace(0.01, 1.0, 60):
            logits = cosines / temperature
            logits -= logits.max(axis=1, keepdims=True)
            log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
            loss = -log_probs[np.arange(len(columns)), columns].mean()
            if loss < best_loss:
                best, best_loss = float(temperature), loss
        self.temperature = best
        self._examples = (self.encoder.encode(list(questions)), [self._prompt(c) for c in codes])
        return best

    def _prompt(self, code: str) -> str:
        return self.codes[self._index(code)].prompt

    def neighbour_codes(self, questions: Sequence[str], k: int = 3) -> list[str]:
        """For each question, the most common code among its ``k`` nearest hand-labelled
        questions (ties: the nearest); needs :meth:`calibrate` first."""
        if self._examples is None:
            raise InvalidArgumentError(
                "the goal judge has no labelled examples; call calibrate() first."
            )
        vectors, labels = self._examples
        similarity = self.encoder.encode(list(questions)) @ vectors.T
        out = []
        for row in similarity:
            nearest = np.argsort(-row, kind="stable")[:k]
            votes: dict[str, int] = {}
            for j in nearest:
                votes[labels[j]] = votes.get(labels[j], 0) + 1
            out.append(max(votes, key=votes.__getitem__))  # a tie goes to the nearest
        return out

    def auto_acceptable(
        self, questions: Sequence[str], codes: Sequence[str], threshold: float
    ) -> np.ndarray:
        """Which proposals may be accepted without a person: confidence at least
        ``threshold`` *and* the hand-labelled questions nearest the question clause
        agree on the code."""
        sure = self.confidence(questions, codes) >= threshold
        neighbours = self.neighbour_codes([question_clause(q) for q in questions])
        agree = np.array(
            [n == self._prompt(c) for n, c in zip(neighbours, codes, strict=True)], bool
        )
        return sure & agree

    def accuracy(self, questions: Sequence[str], codes: Sequence[str]) -> float:
        predicted = self.predict(questions)
        return float(np.mean([p == c for p, c in zip(predicted, codes, strict=True)]))


def read_goal_questions(path: Path | str = GOAL_QUESTIONS) -> tuple[list[str], list[str]]:
    """The project's hand-labelled questions: ``(questions, code prompts)``."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or set(rows[0]) != {"code", "question"}:
        raise InvalidArgumentError(f"{path}: expected a CSV with columns code,question.")
    return [r["question"] for r in rows], [r["code"] for r in rows]
