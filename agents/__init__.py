"""Who speaks: the DialogAgent protocol and its offline, model-backed and human agents.

Nothing here knows about RL; the environment talks to agents only through
:class:`DialogAgent.respond`. The model-backed agents import torch and transformers,
so they load on first use: ``from convenv.agents import PersonaGPTAgent``.
"""

from __future__ import annotations

from convenv.agents.base import DialogAgent, DialogContext
from convenv.lazy import lazy_attributes

# Public name → module that defines it (imported when first asked for).
_LAZY = {
    "PersonaGPTAgent": "convenv.agents.personagpt",
    "PersonaGPTUnavailable": "convenv.agents.personagpt",
    "RetrievalPartner": "convenv.agents.retrieval",
    "RetrievalInterviewer": "convenv.agents.retrieval",
    "SentenceEncoder": "convenv.agents.sentence_encoder",
    "HumanAgent": "convenv.agents.human",
    "build_tiny_personagpt": "convenv.agents.tiny_personagpt",
    "ConsistentPartner": "convenv.agents.consistent_partner",
    "RevealRates": "convenv.agents.consistent_partner",
    "PoolAuthors": "convenv.agents.pool_authors",
    "resolve_model_source": "convenv.agents.model_source",
    "build_tiny_gguf": "convenv.agents.tiny_gguf",
}

__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = ["DialogAgent", "DialogContext", *_LAZY]
