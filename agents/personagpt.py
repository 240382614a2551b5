"""PersonaGPT (GPT-2 medium fine-tuned on Persona-Chat with action codes) as a dialog agent."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from convenv.agents.base import DialogContext
from convenv.agents.generation import (
    BatchedDecoder,
    context_length,
    hub_reachable,
    load_causal_lm,
    precision_dtype,
)
from convenv.agents.personagpt_prompt import EOS, encode_prompt, ensure_special_tokens
from convenv.devices import resolve_device
from convenv.errors import InvalidArgumentError, ModelUnavailableError
from convenv.model_source import PRECISIONS

DEFAULT_MODEL = "af1tang/personaGPT"
# Re-exported: the fine-tuning jobs load PersonaGPT-layout models through this module.
__all__ = [
    "DEFAULT_MODEL",
    "PRECISIONS",
    "PersonaGPTAgent",
    "PersonaGPTUnavailable",
    "context_length",
    "hub_reachable",
    "load_personagpt",
]


class PersonaGPTUnavailable(ModelUnavailableError):
    """The model is neither cached nor reachable."""


def load_personagpt(model_name_or_path: str | Path, device: torch.device, dtype: torch.dtype):
    """Tokenizer and causal LM (see :func:`convenv.agents.generation.load_causal_lm`),
    with PersonaGPT's special tokens added (and the embeddings resized) where the
    tokenizer lacks them."""
    tokenizer, model = load_causal_lm(
        model_name_or_path,
        device,
        dtype,
        PersonaGPTUnavailable,
        hint=f' On a machine with internet, run once `python -c "from transformers import '
        f"AutoModelForCausalLM as M; M.from_pretrained('{DEFAULT_MODEL}')\"` to cache it, or "
        "pass a local directory with the model. Offline, use the retrieval partner "
        "(partner='retrieval').",
    )
    if ensure_special_tokens(tokenizer):
        model.resize_token_embeddings(len(tokenizer))
    model.to(device).eval()
    return tokenizer, model


class PersonaGPTAgent:
    """Partner or interviewer backed by PersonaGPT; one ``generate`` call per batch.

    A context with a ``goal`` gets the interviewer's action prompt; one without gets
    the partner prompt with its persona. Mixed batches work.

    Args:
        model_name_or_path: Hub name (default ``af1tang/personaGPT``) or a directory.
        device: ``"auto"`` (CUDA if present), ``"cpu"``, ``"cuda"``...; bf16 on CUDA.
        do_sample: Sample with top-k/top-p (PersonaGPT's defaults) or decode greedily.
        top_k, top_p, temperature: Sampling settings.
        max_new_tokens: Longest reply.
        max_context: Prompt budget; the oldest turns are dropped to fit, never the persona.
        seed: Seeds sampling when the contexts carry no seed.
        precision: ``"auto"`` (bf16 on CUDA, float32 elsewhere), ``"float32"`` or
            ``"bfloat16"`` (bf16 weights; on recent CPUs generation is ~2.5× faster).
        prefix_cache_mb: Keys and values of earlier prompts kept for reuse (a dialog's
            next turn reads only its new tokens; 0 turns it off).
    """

    def __init__(
        self,
        model_name_or_path: str | Path = DEFAULT_MODEL,
        device: str = "auto",
        do_sample: bool = True,
        top_k: int = 10,
        top_p: float = 0.92,
        temperature: float = 1.0,
        max_new_tokens: int = 40,
        max_context: int | None = None,
        seed: int | None = 0,
        precision: str = "auto",
        prefix_cache_mb: int = 1024,
    ) -> None:
        self.device = resolve_device(device)
        dtype = precision_dtype(precision, self.device)
        self.tokenizer, self.model = load_personagpt(model_name_or_path, self.device, dtype)
        positions = context_length(self.model, 1024)
        self.max_context = min(max_context or positions, positions)
        if self.max_context <= max_new_tokens:
            raise InvalidArgumentError(
                f"max_context={self.max_context} leaves no room for "
                f"max_new_tokens={max_new_tokens}."
            )
        self.max_new_tokens = max_new_tokens
        self.eos_id = self.tokenizer.convert_tokens_to_ids(EOS)
        self.decode = BatchedDecoder(
            self.tokenizer, self.model, self.device, do_sample, top_k, top_p, temperature,
            max_new_tokens, seed, [self.eos_id], prefix_cache_mb,
        )  # fmt: skip

    def prompt_ids(self, context: DialogContext) -> list[int]:
        """The token ids fed to the model for ``context`` (after truncation)."""
        prompt = encode_prompt(self.tokenizer, context.history, context.persona, context.goal)
        return prompt.fit(self.max_context - self.max_new_tokens)

    def respond(self, contexts: Sequence[DialogContext]) -> list[str]:
        if not contexts:
            return []
        seed = next((c.seed for c in contexts if c.seed is not None), None)
        return self.decode([self.prompt_ids(c) for c in contexts], seed)
