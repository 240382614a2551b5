"""A person at the console, speaking through the same protocol as any agent."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from convenv.agents.base import DialogContext


class HumanAgent:
    """Asks a person for each utterance.

    Args:
        prompt: Shown before each input; ``{goal}`` is replaced by the action code.
        input_fn: Reads one line (``input`` by default; tests pass a scripted one).
    """

    def __init__(self, prompt: str = "you> ", input_fn: Callable[[str], str] = input) -> None:
        self.prompt = prompt
        self.input_fn = input_fn

    def respond(self, contexts: Sequence[DialogContext]) -> list[str]:
        return [self.input_fn(self.prompt.format(goal=c.goal or "")).strip() for c in contexts]
