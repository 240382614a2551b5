"""Zero-shot goal check: does a question fit its action code?

The judge embeds each code's description and scores a question by a softmax over
all codes of its similarity to them: ``confidence(question, code)`` is the
probability that ``code`` is the question's topic. Active learning shows the person
the proposals with the lowest confidence first; proposals above a user-set
threshold may be accepted automatically.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from convenv.actions import ActionCode, ActionSet, code_from_string
from convenv.data import data_file
from convenv.errors import InvalidArgumentError

GOAL_QUESTIONS = data_file("goal_questions.csv")


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
        return best

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
