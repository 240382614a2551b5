"""Light stand-ins for the encoder and the agents, for tests and examples.

They live in the package (not in a test's conftest) so that processes that unpickle
them, such as Ray workers and RLlib env runners, can import them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

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


def stub_env(
    task: str = "identification",
    split: str = "test",
    n_personas: int = 12,
    max_turns: int = 3,
):
    """A fast env on the stand-ins, over the first ``n_personas`` personas of ``split``
    (a module-level function, so a worker process can be told to build it)."""
    from convenv.env import PersonaInterviewEnv
    from convenv.identifier import PersonaIdentifier
    from convenv.personachat import load_personas

    return PersonaInterviewEnv(
        partner=EchoPartner(),
        interviewer=GoalInterviewer(),
        identifier=PersonaIdentifier(HashingEncoder()),
        split=split,
        personas=load_personas(split)[:n_personas],
        max_turns=max_turns,
        task=task,
    )
