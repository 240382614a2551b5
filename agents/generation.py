"""Loading a causal LM and decoding a batch of prompts in one ``generate`` call: what
every model-backed speaker shares (PersonaGPT's layout, chat templates)."""

from __future__ import annotations

import inspect
import os
import pickle
from collections.abc import Sequence
from pathlib import Path

import torch

from convenv.agents.prefix_cache import PrefixCache, batch_layout, supports_prefix_cache
from convenv.devices import inference_dtype, quiet_model_loading
from convenv.errors import InvalidArgumentError, ModelUnavailableError, PickledWeightsError
from convenv.model_source import check_precision


class ModelLoadError(ModelUnavailableError):
    """A model is neither cached nor reachable, or its files do not load."""


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


def load_causal_lm(
    model_name_or_path: str | Path,
    device: torch.device,
    dtype: torch.dtype,
    unavailable: type[ModelUnavailableError] = ModelLoadError,
    hint: str = "",
):
    """Tokenizer and causal LM from a hub name, a local directory, a GGUF file or a
    packaged model (``"smollm2"``; see :mod:`convenv.model_source`), without remote code.

    A cached or local copy is tried first (no network); the hub only if that fails and
    ``HF_HUB_OFFLINE`` is not set. Raises ``unavailable`` (with ``hint`` appended) when
    nothing loads. The tokenizer pads on the left, so a batch's replies start together.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from convenv.model_source import resolve_model_source

    source = resolve_model_source(model_name_or_path)
    name, extra = source.name_or_path, source.from_pretrained_kwargs()
    attempts = (
        [True] if source.is_local or os.environ.get("HF_HUB_OFFLINE") == "1" else [True, False]
    )
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
                    name, local_files_only=local_only, dtype=dtype, trust_remote_code=False,
                    **extra,
                )  # fmt: skip
            error = None
            break
        except pickle.UnpicklingError as err:  # torch.load(weights_only=True) refused it
            raise PickledWeightsError(name, "a .bin checkpoint") from err
        except (OSError, ValueError) as err:
            error = err
    if error is not None:
        raise unavailable(
            f"model_name_or_path={str(source)!r} could not be loaded ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:200]}).{hint}"
        ) from error
    if source.gguf_file:
        # A GGUF's weights are dequantized into ordinary tensors on load; forgetting the
        # quantizer lets the model be trained and saved as a normal checkpoint.
        model.hf_quantizer = None
        model.config.__dict__.pop("quantization_config", None)
        model.is_quantized = False
    if getattr(model.config, "loss_type", "") is None:  # silences a warning per forward pass
        model.config.loss_type = "ForCausalLM"
    tokenizer.padding_side = "left"
    return tokenizer, model


def context_length(model, fallback: int) -> int:
    """The model's context window (GPT-2's ``n_positions``, Llama's
    ``max_position_embeddings``), or ``fallback``."""
    for name in ("n_positions", "max_position_embeddings"):
        value = getattr(model.config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return fallback


def precision_dtype(precision: str, device: torch.device) -> torch.dtype:
    """``"auto"`` (bf16 on CUDA, float32 elsewhere), ``"float32"`` or ``"bfloat16"``."""
    check_precision(precision)
    if precision == "auto":
        return inference_dtype(device)
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[precision]


class BatchedDecoder:
    """Replies to a batch of token-id prompts with one left-padded ``generate`` call
    (the KV cache on), greedy or sampled.

    Sampling is seeded once per call (from the first context's seed, else ``seed``),
    so a batch is reproducible; under greedy decoding each reply is the same whatever
    else is in its batch.

    With ``prefix_cache_mb`` > 0 (and a full-attention model), the keys and values of
    every prompt are kept (:class:`~convenv.agents.prefix_cache.PrefixCache`) and a
    later prompt that starts the same way reads only its new tokens: a dialog's next
    turn, or the forks of a lookahead.
    """

    def __init__(
        self,
        tokenizer,
        model,
        device: torch.device,
        do_sample: bool,
        top_k: int | None,
        top_p: float,
        temperature: float,
        max_new_tokens: int,
        seed: int | None,
        stop_ids: Sequence[int],
        prefix_cache_mb: int = 0,
    ) -> None:
        self.tokenizer, self.model, self.device = tokenizer, model, device
        self.do_sample = do_sample
        self.top_k, self.top_p, self.temperature = top_k, top_p, temperature
        self.max_new_tokens = max_new_tokens
        self.seed = seed
        self.stop_ids = [int(i) for i in stop_ids if i is not None]
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.stop_ids[0]
        self.prefix_cache = None
        if prefix_cache_mb < 0:
            raise InvalidArgumentError(
                f"prefix_cache_mb={prefix_cache_mb!r}; pass 0 (off) or a size in MB."
            )
        if prefix_cache_mb and supports_prefix_cache(model):
            self.prefix_cache = PrefixCache(prefix_cache_mb << 20)
        # transformers renamed generate's `past_key_values` to `cache` within 5.x.
        parameters = inspect.signature(model.prepare_inputs_for_generation).parameters
        self.cache_argument = "cache" if "cache" in parameters else "past_key_values"

    @torch.inference_mode()
    def __call__(self, rows: Sequence[list[int]], seed: int | None = None) -> list[str]:
        if not rows:
            return []
        if self.prefix_cache is not None:
            batch = self.prefix_cache.prepare(rows, self.pad_id, self.model.config, self.device)
            input_ids, attention, width = batch.input_ids, batch.attention_mask, batch.width
            cached = {self.cache_argument: batch.cache} if batch.cache is not None else {}
        else:
            input_ids, attention = (
                t.to(self.device) for t in batch_layout(rows, [0] * len(rows), self.pad_id)
            )
            width = input_ids.shape[1]
            cached = {}
        seed = seed if seed is not None else self.seed
        if self.do_sample and seed is not None:
            torch.manual_seed(seed)
        sampling = (
            {"do_sample": True, "top_p": self.top_p, "temperature": self.temperature}
            | ({"top_k": self.top_k} if self.top_k else {})
            if self.do_sample
            else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        )
        output = self.model.generate(
            input_ids=input_ids,
            attention_mask=attention,
            max_new_tokens=self.max_new_tokens,
            pad_token_id=self.pad_id,
            eos_token_id=self.stop_ids,
            use_cache=True,
            return_dict_in_generate=self.prefix_cache is not None,
            **cached,
            **sampling,
        )
        if self.prefix_cache is not None:
            cache = getattr(output, "cache", None)
            if cache is None:
                cache = getattr(output, "past_key_values", None)
            if cache is not None:
                self.prefix_cache.store(rows, batch, cache)
            output = output.sequences
        replies = []
        for row in output[:, width:].tolist():
            cut = next((k for k, token in enumerate(row) if token in self.stop_ids), len(row))
            replies.append(self.tokenizer.decode(row[:cut], skip_special_tokens=True).strip())
        return replies
