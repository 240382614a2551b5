"""Who speaks: the DialogAgent protocol and its offline, model-backed and human agents.

Nothing here knows about RL; the environment talks to agents only through
:class:`DialogAgent.respond`. The model-backed agents import torch and transformers,
so they load on first use: ``from convenv.agents import PersonaGPTAgent``.
"""

from __future__ import annotations

from importlib import import_module

from convenv.agents.base import DialogAgent, DialogContext

# Public name → module that defines it (imported when first asked for).
_LAZY = {
    "PersonaGPTAgent": "convenv.agents.personagpt",
    "PersonaGPTUnavailable": "convenv.agents.personagpt",
    "RetrievalPartner": "convenv.agents.retrieval",
    "RetrievalInterviewer": "convenv.agents.retrieval",
    "SentenceEncoder": "convenv.agents.sentence_encoder",
    "HumanAgent": "convenv.agents.human",
    "build_tiny_personagpt": "convenv.agents.tiny_personagpt",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'convenv.agents' has no attribute {name!r}")


__all__ = ["DialogAgent", "DialogContext", *_LAZY]
