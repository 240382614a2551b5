"""The PersonaGPT input layout — the one place that knows it.

Partner (persona) prompt::

    <|p2|> fact₁<|endoftext|> … factₙ<|endoftext|> <|sep|><|start|> turn₁<|endoftext|> …

Interviewer (action) prompt, as in the checkpoint's model card::

    <|act|> ␣code<|p1|><|sep|><|start|> turn₁<|endoftext|> …

The reply is generated after the last ``<|endoftext|>`` and ends with one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from convenv.errors import InvalidArgumentError

EOS = "<|endoftext|>"
SEP = "<|sep|>"
CLS = "<|cls|>"
START = "<|start|>"
P1 = "<|p1|>"
P2 = "<|p2|>"
ACT = "<|act|>"
ADDITIONAL_TOKENS = (START, P1, P2, ACT)


def ensure_special_tokens(tokenizer) -> int:
    """Add PersonaGPT's special tokens where a tokenizer lacks them; returns how many were added.

    The caller must resize the model's embeddings when this returns more than 0.
    """
    vocab = tokenizer.get_vocab()
    wanted: dict = {}
    if tokenizer.eos_token is None:
        wanted["eos_token"] = EOS
    if SEP not in vocab or tokenizer.sep_token != SEP:
        wanted["sep_token"] = SEP
    if CLS not in vocab or tokenizer.cls_token != CLS:
        wanted["cls_token"] = CLS
    missing = [t for t in ADDITIONAL_TOKENS if t not in vocab]
    if missing:
        wanted["additional_special_tokens"] = list(ADDITIONAL_TOKENS)
    added = tokenizer.add_special_tokens(wanted) if wanted else 0
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return added


def persona_prefix(persona: Sequence[str]) -> str:
    return P2 + "".join(fact + EOS for fact in persona) + SEP + START


def action_prefix(code: str) -> str:
    return f"{ACT} {code}{P1}{SEP}{START}"


def history_turns(history: Sequence[str]) -> list[str]:
    return [turn + EOS for turn in history]


@dataclass(frozen=True)
class PromptIds:
    """A prompt as token ids: a prefix that is never cut, and the turns after it."""

    prefix: list[int]
    turns: list[list[int]]

    def fit(self, budget: int) -> list[int]:
        """Prefix + the newest turns that fit in ``budget`` tokens (oldest turns go first).

        Raises:
            ValueError: if the prefix alone (the persona or action code) does not fit.
        """
        if len(self.prefix) > budget:
            raise InvalidArgumentError(
                f"the persona/action prefix has {len(self.prefix)} tokens but only {budget} fit; "
                "shorten the persona or raise max_context."
            )
        kept: list[list[int]] = []
        room = budget - len(self.prefix)
        for turn in reversed(self.turns):
            if len(turn) > room:
                break
            kept.insert(0, turn)
            room -= len(turn)
        return self.prefix + [t for turn in kept for t in turn]


def encode_prompt(
    tokenizer, history: Sequence[str], persona: Sequence[str] = (), goal: str | None = None
) -> PromptIds:
    """Token ids of the partner prompt (``goal is None``) or the interviewer's action prompt."""
    prefix = action_prefix(goal) if goal is not None else persona_prefix(persona)
    return PromptIds(
        prefix=tokenizer.encode(prefix, add_special_tokens=False),
        turns=[tokenizer.encode(t, add_special_tokens=False) for t in history_turns(history)],
    )
