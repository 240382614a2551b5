"""Action codes: what the interviewer is told to talk about each turn."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from convenv.errors import InvalidArgumentError


@dataclass(frozen=True)
class ActionCode:
    """One interviewer goal.

    Attributes:
        label: What a person reads, e.g. ``"ask about pets"``.
        prompt: The exact string the PersonaGPT checkpoint was trained on after
            ``<|act|>``, e.g. ``"ask about pets."``.
        description: A natural question on the topic, used for zero-shot matching of
            questions to codes by a sentence encoder (defaults to the label).
    """

    label: str
    prompt: str
    description: str = ""

    def __post_init__(self) -> None:
        if not self.label.strip() or not self.prompt.strip():
            raise InvalidArgumentError(
                f"ActionCode(label={self.label!r}, prompt={self.prompt!r}): label and prompt "
                "must be non-empty strings."
            )
        if not self.description:
            object.__setattr__(self, "description", self.label)


# Labels follow the 11 goals of the PersonaGPT README; prompts are the checkpoint's
# training strings (note 'ask about kids.' for family and 'talk about travel.').
DEFAULT_ACTIONS: tuple[ActionCode, ...] = (
    ActionCode("ask about family", "ask about kids.", "do you have any kids or siblings?"),
    ActionCode("ask about pets", "ask about pets.", "do you have any pets, a dog or a cat?"),
    ActionCode("talk about work", "talk about work.", "what do you do for a living?"),
    ActionCode(
        "ask about marital status", "ask about marital status.", "are you married or single?"
    ),
    ActionCode("talk about traveling", "talk about travel.", "where do you like to travel?"),
    ActionCode("ask about age and gender", "ask about age and gender.", "how old are you?"),
    ActionCode("ask about hobbies", "ask about hobbies.", "what do you do for fun?"),
    ActionCode(
        "ask about favorite food", "ask about favorite food.", "what is your favorite food?"
    ),
    ActionCode("talk about movies", "talk about movies.", "what movies do you like to watch?"),
    ActionCode("talk about music", "talk about music.", "what kind of music do you listen to?"),
    ActionCode("talk about politics", "talk about politics.", "what do you think about politics?"),
)


class ActionSet(Sequence[ActionCode]):
    """An ordered, duplicate-free list of action codes; action ``i`` is ``codes[i]``."""

    def __init__(self, codes: Iterable[ActionCode | str] = DEFAULT_ACTIONS) -> None:
        parsed = []
        for i, c in enumerate(codes):
            if not isinstance(c, (ActionCode, str)):
                raise InvalidArgumentError(
                    f"actions[{i}]={c!r}; pass ActionCode objects or code strings such as "
                    "'ask about sports.' (to choose among the default codes, use indices "
                    "as actions, not as codes)."
                )
            parsed.append(c if isinstance(c, ActionCode) else code_from_string(c))
        if not parsed:
            raise InvalidArgumentError("actions must hold at least one action code.")
        prompts = [c.prompt for c in parsed]
        duplicates = sorted({p for p in prompts if prompts.count(p) > 1})
        if duplicates:
            raise InvalidArgumentError(f"actions has duplicate prompts {duplicates}.")
        self._codes = tuple(parsed)

    def __getitem__(self, index):  # type: ignore[override]
        return self._codes[index]

    def __len__(self) -> int:
        return len(self._codes)

    def __iter__(self) -> Iterator[ActionCode]:
        return iter(self._codes)

    def __repr__(self) -> str:
        return f"ActionSet({[c.prompt for c in self._codes]})"

    @property
    def prompts(self) -> list[str]:
        return [c.prompt for c in self._codes]

    def code(self, action: object) -> ActionCode:
        """The code for an action index, with a clear error for anything else."""
        if isinstance(action, (str, bytes, bool, np.bool_)):
            raise InvalidArgumentError(
                f"action={action!r} is not an integer; pass an index in [0, {len(self) - 1}]."
            )
        try:
            index = int(action)  # numpy ints and 0-d arrays come from SB3
        except (TypeError, ValueError, OverflowError) as err:
            raise InvalidArgumentError(
                f"action={action!r} is not an integer; pass an index in [0, {len(self) - 1}]."
            ) from err
        if index != action or not 0 <= index < len(self):
            raise InvalidArgumentError(
                f"action={action!r} is out of range; pass an index in [0, {len(self) - 1}] "
                f"({len(self)} action codes)."
            )
        return self._codes[index]

    def codes(self, actions: Sequence | np.ndarray) -> tuple[list[int], list[ActionCode]]:
        """Indices and codes for a batch of actions (one check for a valid integer array)."""
        array = np.asarray(actions)
        valid = array.ndim == 1 and array.dtype.kind in "iu"
        if valid and (array.size == 0 or (array.min() >= 0 and array.max() < len(self))):
            indices = array.tolist()
            return indices, [self._codes[i] for i in indices]
        codes = [self.code(a) for a in actions]  # the slow path names the bad action
        return [int(a) for a in actions], codes

    def index(self, prompt_or_label: str) -> int:  # type: ignore[override]
        """The index of a code given its prompt or its label."""
        for i, c in enumerate(self._codes):
            if prompt_or_label in (c.prompt, c.label):
                return i
        raise InvalidArgumentError(
            f"{prompt_or_label!r} is not an action code here; known prompts: {self.prompts}."
        )


def code_from_string(text: str) -> ActionCode:
    """A custom code typed as plain text: the text is label, prompt and description."""
    text = text.strip()
    prompt = text if text.endswith(".") else text + "."
    return ActionCode(label=text.rstrip("."), prompt=prompt, description=text.rstrip("."))


def as_action_set(actions: ActionSet | Iterable[ActionCode | str] | None) -> ActionSet:
    """Accept ``None`` (the 11 defaults), an ActionSet, or codes/strings."""
    if actions is None:
        return ActionSet()
    if isinstance(actions, ActionSet):
        return actions
    if isinstance(actions, str):
        raise InvalidArgumentError(
            f"actions={actions!r} is a single string; pass a list of action codes."
        )
    return ActionSet(actions)
