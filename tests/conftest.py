"""Shared fixtures: fast stand-ins for the encoder and agents, and the real offline default."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import pytest

from convenv.agents.base import DialogContext


class HashingEncoder:
    """A deterministic bag-of-words encoder: shared words give cosine similarity."""

    dim = 64

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
        return out

    def encode_corpus(self, texts, cache_dir=None, desc=""):
        return self.encode(texts)


class EchoPartner:
    """Answers with one of its facts, picked by the question's length (deterministic)."""

    def respond(self, contexts: Sequence[DialogContext]) -> list[str]:
        return [c.persona[len(c.history[-1]) % len(c.persona)] for c in contexts]


class GoalInterviewer:
    """Asks about its goal, numbering questions so none repeats."""

    def respond(self, contexts: Sequence[DialogContext]) -> list[str]:
        return [f"tell me: {c.goal} ({len(c.history) // 2})?" for c in contexts]


@pytest.fixture
def stub_env_kwargs():
    from convenv.identifier import PersonaIdentifier

    return {
        "partner": EchoPartner(),
        "interviewer": GoalInterviewer(),
        "identifier": PersonaIdentifier(HashingEncoder()),
    }


@pytest.fixture(scope="session")
def default_components():
    """The real embedded default (MiniLM + retrieval over Persona-Chat), built once."""
    from convenv.defaults import default_components as build

    return build()
