"""Zero-shot goal check: does a question fit its action code?

The judge embeds each code's description and scores a question by a softmax over
all codes of its similarity to them: ``confidence(question, code)`` is the
probability that ``code`` is the question's topic. Active learning shows the person
the proposals with the lowest confidence first.

The topic softmax alone is not a confidence: an interviewer whose question banks
were labelled by the same similarity to the code descriptions is, by construction,
sure of everything it proposes (0.98-1.00, off-code questions included). So
:meth:`GoalJudge.fit_acceptance` fits a logistic model of "a person would accept
this question for this code" on hand-labelled proposals (``data/goal_proposals.csv``:
the interviewer's question banks, each question marked as fitting its code or not)
from three signals: the softmax of the whole question, the softmax of its question
clause ("i love to travel as well, *what else do you like to do?*"), and the share
of the nearest hand-labelled questions (``data/goal_questions.csv``) that carry the
code. :meth:`GoalJudge.confidence` is then that calibrated probability; the review
queue's order and auto-accept follow it. :meth:`GoalJudge.auto_acceptable` also
still asks the nearest labelled questions to agree on the code.
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
GOAL_PROPOSALS = data_file("goal_proposals.csv")
# Nearest hand-labelled questions whose codes vote on a proposal's code.
NEIGHBOURS = 5


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
        # Logistic weights and intercept over acceptance_features (fit_acceptance).
        self._acceptance: tuple[np.ndarray, float] | None = None

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

    def topic_probability(self, questions: Sequence[str], codes: Sequence[str]) -> np.ndarray:
        """P(code | question) of the topic softmax, for each (question, code) pair."""
        columns = [self._index(c) for c in codes]
        probs = self.probabilities(questions)
        return probs[np.arange(len(questions)), columns]

    def confidence(self, questions: Sequence[str], codes: Sequence[str]) -> np.ndarray:
        """How sure the check is that each question fits its code: the calibrated
        probability of :meth:`fit_acceptance` once fitted, else the topic softmax."""
        if self._acceptance is None:
            return self.topic_probability(questions, codes)
        weights, intercept = self._acceptance
        logits = self.acceptance_features(questions, codes) @ weights + intercept
        return 1.0 / (1.0 + np.exp(-logits))

    def acceptance_features(self, questions: Sequence[str], codes: Sequence[str]) -> np.ndarray:
        """``(n, 3)``: log-odds of the topic softmax for the whole question and for its
        question clause, and the share of the nearest labelled questions with the code
        (needs :meth:`calibrate` first)."""
        clauses = [question_clause(q) or q for q in questions]
        whole = self.topic_probability(questions, codes)
        clause = self.topic_probability(clauses, codes)
        prompts = [self._prompt(c) for c in codes]
        votes = self._neighbour_votes(clauses, NEIGHBOURS)
        shares = [v.get(p, 0) / NEIGHBOURS for v, p in zip(votes, prompts, strict=True)]
        return np.column_stack([_log_odds(whole), _log_odds(clause), np.array(shares)])

    def fit_acceptance(
        self, questions: Sequence[str], codes: Sequence[str], fits: Sequence[bool]
    ) -> None:
        """Fit :meth:`confidence` to hand labels: ``fits[i]`` says whether a person
        accepts ``questions[i]`` for ``codes[i]`` (logistic regression over
        :meth:`acceptance_features`; needs :meth:`calibrate` first)."""
        from sklearn.linear_model import LogisticRegression

        labels = np.asarray(fits, dtype=int)
        if len(set(labels.tolist())) < 2:
            raise InvalidArgumentError(
                "fits holds one class only; pass proposals that fit and ones that do not."
            )
        model = LogisticRegression(C=1.0).fit(self.acceptance_features(questions, codes), labels)
        self._acceptance = (model.coef_[0].astype(float), float(model.intercept_[0]))

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
        # A tie goes to the nearest: votes are counted in order of nearness.
        return [max(votes, key=votes.__getitem__) for votes in self._neighbour_votes(questions, k)]

    def _neighbour_votes(self, questions: Sequence[str], k: int) -> list[dict[str, int]]:
        """For each question, ``{code prompt: votes}`` of its ``k`` nearest hand-labelled
        questions, nearest first."""
        if self._examples is None:
            raise InvalidArgumentError(
                "the goal judge has no labelled examples; call calibrate() first."
            )
        vectors, labels = self._examples
        similarity = self.encoder.encode(list(questions)) @ vectors.T
        out = []
        for row in similarity:
            votes: dict[str, int] = {}
            for j in np.argsort(-row, kind="stable")[:k]:
                votes[labels[j]] = votes.get(labels[j], 0) + 1
            out.append(votes)
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


def read_goal_proposals(
    path: Path | str = GOAL_PROPOSALS,
) -> tuple[list[str], list[str], list[bool]]:
    """Hand-labelled proposals: ``(questions, code prompts, fits)``."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or set(rows[0]) != {"code", "question", "fits"}:
        raise InvalidArgumentError(f"{path}: expected a CSV with columns code,question,fits.")
    return (
        [r["question"] for r in rows],
        [r["code"] for r in rows],
        [r["fits"] == "1" for r in rows],
    )


def _log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)  # a softmax of 1.0 is a float's rounding, not certainty
    return np.log(p) - np.log1p(-p)
