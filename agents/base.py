"""The dialog-agent protocol: who speaks, not who decides (agents know nothing of RL)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(slots=True)
class DialogContext:
    """Everything an agent may read before it speaks one turn (agents only read it).

    Attributes:
        history: The utterances so far, oldest first, speakers alternating. For a
            partner it ends with the question to answer; for an interviewer it ends
            with the partner's last answer (or is empty on the first turn).
        persona: The speaker's own persona facts (empty for an interviewer).
        goal: The action-code prompt the interviewer must follow, exactly as the
            PersonaGPT checkpoint was trained on it (e.g. ``"ask about pets."``);
            ``None`` for a partner.
        seed: Per-turn seed so that sampling agents are reproducible per episode,
            independently of how many episodes share a batch.
        dialog_seed: One seed for the whole dialog: what stays the same from turn to
            turn, like how talkative the speaker is (``None``: unknown).
        focus: For an interviewer: a fact its question may check (in authentication the
            claimed fact on the code's topic: the claim is public); ``None`` where the
            task shows it none.
    """

    # Not frozen: a frozen dataclass's __init__ costs 3x more, and every env step
    # builds two of these per episode.
    history: tuple[str, ...] = ()
    persona: tuple[str, ...] = ()
    goal: str | None = None
    seed: int | None = None
    dialog_seed: int | None = None
    focus: str | None = None


@runtime_checkable
class DialogAgent(Protocol):
    """Anything that answers a batch of contexts with one utterance each.

    One call for the whole batch lets a model-backed agent answer every env of a
    vector env in a single forward pass.
    """

    def respond(self, contexts: Sequence[DialogContext]) -> list[str]: ...


def last_utterance(context: DialogContext) -> str:
    """The utterance an agent is replying to ('' on an empty history)."""
    return context.history[-1] if context.history else ""
