"""Who speaks: the DialogAgent protocol and its offline, model-backed and human agents.

Nothing here knows about RL; the environment talks to agents only through
:class:`DialogAgent.respond`.
"""

from __future__ import annotations

from convenv.agents.base import DialogAgent, DialogContext

__all__ = ["DialogAgent", "DialogContext"]
