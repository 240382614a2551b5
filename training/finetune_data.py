"""Supervised examples in the PersonaGPT layout: a prompt, and the reply the loss is on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from convenv.agents.personagpt_prompt import EOS, encode_prompt
from convenv.personachat import Dialog
from convenv.training.label_store import LabelledExample

IGNORE = -100  # label of tokens the loss skips (prompt and padding)


@dataclass(frozen=True)
class SupervisedExample:
    """Token ids of one training example; ``task`` names its loss in the logs."""

    input_ids: list[int]
    labels: list[int]
    task: str


def _example(tokenizer, prompt, reply: str, max_length: int, task: str) -> SupervisedExample | None:
    """The example, or None when the persona/action prefix alone leaves no room for
    the reply within ``max_length`` (such an example is skipped, not truncated)."""
    target = tokenizer.encode(reply + EOS, add_special_tokens=False)[: max_length // 2]
    if len(prompt.prefix) > max_length - len(target):
        return None
    context = prompt.fit(max_length - len(target))
    return SupervisedExample(context + target, [IGNORE] * len(context) + target, task)


def _kept(examples) -> list[SupervisedExample]:
    return [e for e in examples if e is not None]


def action_examples(
    tokenizer, examples: Sequence[LabelledExample], max_length: int = 512
) -> list[SupervisedExample]:
    """Accepted/corrected questions: action prompt (code + history) → the final question."""
    return _kept(
        _example(
            tokenizer,
            encode_prompt(tokenizer, e.history, goal=e.code),
            e.final,
            max_length,
            "action",
        )
        for e in examples
        if e.is_training_example
    )


def code_question_examples(
    tokenizer, pairs: Sequence[tuple[str, str]], max_length: int = 512
) -> list[SupervisedExample]:
    """(action code, question) pairs with no history, such as ``data/goal_questions.csv``:
    they teach a fresh model the interviewer's action prompt."""
    return _kept(
        _example(tokenizer, encode_prompt(tokenizer, [], goal=code), question, max_length, "action")
        for code, question in pairs
    )


def personachat_question_examples(
    tokenizer, dialogs: Sequence[Dialog], judge, threshold: float = 0.9, max_length: int = 512
) -> list[SupervisedExample]:
    """People's own questions as interviewer examples: each Persona-Chat turn that asks
    something, with the history before it, under the action code the calibrated goal
    judge gives it — kept only where the judge would auto-accept that code (confident,
    and the nearest hand-labelled questions agree). These teach the action prompt *with*
    a history, which the history-free goal questions cannot."""
    from convenv.training.goal_judge import question_clause

    turns = [
        (dialog, i)
        for dialog in dialogs
        for i, turn in enumerate(dialog.turns)
        if i > 0 and "?" in turn
    ]
    if not turns:
        return []
    clauses = [question_clause(dialog.turns[i]) for dialog, i in turns]
    codes = judge.predict(clauses)
    keep = judge.auto_acceptable(clauses, codes, threshold)
    return _kept(
        _example(
            tokenizer,
            encode_prompt(tokenizer, dialog.turns[:i], goal=code),
            dialog.turns[i],
            max_length,
            "action",
        )
        for (dialog, i), code, kept in zip(turns, codes, keep, strict=True)
        if kept
    )


def personachat_examples(
    tokenizer, dialogs: Sequence[Dialog], max_length: int = 512
) -> list[SupervisedExample]:
    """Every response of both speakers: that speaker's persona + the history before it."""
    out = []
    for dialog in dialogs:
        for i, reply in enumerate(dialog.turns):
            persona = dialog.persona_of(1 if i % 2 == 0 else 2)
            if not persona or i == 0:
                continue  # a response needs a persona and something to respond to
            prompt = encode_prompt(tokenizer, dialog.turns[:i], persona)
            out.append(_example(tokenizer, prompt, reply, max_length, "persona"))
    return _kept(out)


def collate(batch: Sequence[SupervisedExample], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded tensors; padding is masked out of attention and loss."""
    width = max(len(e.input_ids) for e in batch)
    ids = [e.input_ids + [pad_id] * (width - len(e.input_ids)) for e in batch]
    labels = [e.labels + [IGNORE] * (width - len(e.labels)) for e in batch]
    mask = [[1] * len(e.input_ids) + [0] * (width - len(e.input_ids)) for e in batch]
    return {
        "input_ids": torch.tensor(ids),
        "attention_mask": torch.tensor(mask),
        "labels": torch.tensor(labels),
    }
