"""PersonaGPT (GPT-2 medium fine-tuned on Persona-Chat with action codes) as a dialog agent."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from convenv.agents.base import DialogContext
from convenv.agents.personagpt_prompt import EOS, encode_prompt, ensure_special_tokens
from convenv.devices import inference_dtype, quiet_model_loading, resolve_device
from convenv.errors import InvalidArgumentError, ModelUnavailableError

DEFAULT_MODEL = "af1tang/personaGPT"
PRECISIONS = ("auto", "float32", "bfloat16")


class PersonaGPTUnavailable(ModelUnavailableError):
    """The model is neither cached nor reachable."""


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the model hub answers a TCP connection within ``timeout`` seconds: when it
    does not, loading fails now instead of after a minute of download retries."""
    import socket
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    try:
        socket.create_connection((host or "huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def load_personagpt(model_name_or_path: str | Path, device: torch.device, dtype: torch.dtype):
    """Tokenizer and causal LM from a hub name, a local directory, a GGUF file or a
    packaged model (``"smollm2"``; see ``model_source``), without remote code.

    A cached or local copy is tried first (no network); the hub only if that fails
    and ``HF_HUB_OFFLINE`` is not set. PersonaGPT's special tokens are added (and the
    embeddings resized) where the tokenizer lacks them.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from convenv.model_source import resolve_model_source

    source = resolve_model_source(model_name_or_path)
    name, extra = source.name_or_path, source.from_pretrained_kwargs()
    local = source.is_local
    attempts = [True] if local or os.environ.get("HF_HUB_OFFLINE") == "1" else [True, False]
    error: Exception | None = None
    for local_only in attempts:
        if not local_only and not hub_reachable():
            error = OSError("the model hub is not reachable from this machine")
            break
        try:
            with quiet_model_loading():
                tokenizer = AutoTokenizer.from_pretrained(
                    name, local_files_only=local_only, **extra
                )
                model = AutoModelForCausalLM.from_pretrained(
                    name,
                    local_files_only=local_only,
                    dtype=dtype,
                    trust_remote_code=False,
                    **extra,
                )
            error = None
            break
        except (OSError, ValueError) as err:
            error = err
    if error is not None:
        raise PersonaGPTUnavailable(
            f"model_name_or_path={str(source)!r} could not be loaded ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:200]}). On a machine with internet, run once "
            f'`python -c "from transformers import AutoModelForCausalLM as M; '
            f"M.from_pretrained('{DEFAULT_MODEL}')\"` to cache it, or pass a local directory "
            "with the model. Offline, use the retrieval partner (partner='retrieval')."
        ) from error
    if source.gguf_file:
        # A GGUF's weights are dequantized into ordinary tensors on load; forgetting the
        # quantizer lets the model be trained and saved as a normal checkpoint.
        model.hf_quantizer = None
        model.config.__dict__.pop("quantization_config", None)
        model.is_quantized = False
    if ensure_special_tokens(tokenizer):
        model.resize_token_embeddings(len(tokenizer))
    if getattr(model.config, "loss_type", "") is None:  # silences a warning per forward pass
        model.config.loss_type = "ForCausalLM"
    tokenizer.padding_side = "left"
    model.to(device).eval()
    return tokenizer, model


def context_length(model, fallback: int) -> int:
    """The model's context window (GPT-2's ``n_positions``, Llama's
    ``max_position_embeddings``), or ``fallback``."""
    for name in ("n_positions", "max_position_embeddings"):
        value = getattr(model.config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return fallback


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
    ) -> None:
        self.device = resolve_device(device)
        if precision not in PRECISIONS:
            raise InvalidArgumentError(f"precision={precision!r}; pass one of {PRECISIONS}.")
        dtype = (
            inference_dtype(self.device)
            if precision == "auto"
            else {"float32": torch.float32, "bfloat16": torch.bfloat16}[precision]
        )
        self.tokenizer, self.model = load_personagpt(model_name_or_path, self.device, dtype)
        positions = context_length(self.model, 1024)
        self.max_context = min(max_context or positions, positions)
        if self.max_context <= max_new_tokens:
            raise InvalidArgumentError(
                f"max_context={self.max_context} leaves no room for "
                f"max_new_tokens={max_new_tokens}."
            )
        self.do_sample = do_sample
        self.top_k, self.top_p, self.temperature = top_k, top_p, temperature
        self.max_new_tokens = max_new_tokens
        self.seed = seed
        self.eos_id = self.tokenizer.convert_tokens_to_ids(EOS)

    def prompt_ids(self, context: DialogContext) -> list[int]:
        """The token ids fed to the model for ``context`` (after truncation)."""
        prompt = encode_prompt(self.tokenizer, context.history, context.persona, context.goal)
        return prompt.fit(self.max_context - self.max_new_tokens)

    @torch.inference_mode()
    def respond(self, contexts: Sequence[DialogContext]) -> list[str]:
        if not contexts:
            return []
        rows = [self.prompt_ids(c) for c in contexts]
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id
        # Left padding: every row's last real token sits at the same position.
        input_ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=self.device)
        attention = torch.tensor(
            [[0] * (width - len(r)) + [1] * len(r) for r in rows], device=self.device
        )
        seed = next((c.seed for c in contexts if c.seed is not None), self.seed)
        if self.do_sample and seed is not None:
            torch.manual_seed(seed)
        sampling = (
            {
                "do_sample": True,
                "top_k": self.top_k,
                "top_p": self.top_p,
                "temperature": self.temperature,
            }
            if self.do_sample
            else {"do_sample": False}
        )
        output = self.model.generate(
            input_ids=input_ids,
            attention_mask=attention,
            max_new_tokens=self.max_new_tokens,
            pad_token_id=pad,
            eos_token_id=self.eos_id,
            use_cache=True,
            **sampling,
        )
        replies = []
        for row in output[:, width:].tolist():
            if self.eos_id in row:
                row = row[: row.index(self.eos_id)]
            replies.append(self.tokenizer.decode(row, skip_special_tokens=True).strip())
        return replies
