"""Who speaks: the DialogAgent protocol and the speakers that implement it.

Nothing here knows about RL or about how partners are measured; the environment talks
to agents only through :meth:`DialogAgent.respond`. The model-backed agents import
torch and transformers, so they load on first use: ``from convenv.agents import
PersonaGPTAgent``.
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
    "HumanAgent": "convenv.agents.human",
    "ConsistentPartner": "convenv.agents.consistent_partner",
    "RevealRates": "convenv.agents.consistent_partner",
    "PoolAuthors": "convenv.agents.pool_authors",
}

__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = ["DialogAgent", "DialogContext", *_LAZY]
