"""A partner or interviewer served behind an OpenAI-compatible chat-completions API.

vLLM, TGI, llama.cpp's server (and ``convenv serve-chat``) speak it, so a model served
on GPUs elsewhere is the partner: this agent sends the same chat messages the local
chat agent builds (:func:`convenv.agents.chat_model.chat_messages`), one request per
context, a bounded number at once, with the official ``openai`` client's timeouts and
retries (exponential backoff on connection errors, 429 and 5xx). The context's seed
goes with each request, for the servers that take one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from convenv.agents.base import DialogContext
from convenv.agents.chat_model import INTERVIEWER_TEMPLATE, PARTNER_TEMPLATE, chat_messages
from convenv.errors import InvalidArgumentError, MissingDependencyError, ModelUnavailableError

SERVED_EXTRA = "pip install 'convenv[served]'"


class ServedChatAgent:
    """Replies from an OpenAI-compatible ``/v1/chat/completions`` endpoint.

    Args:
        base_url: The API's root, e.g. ``http://127.0.0.1:8000/v1``.
        model: The served model's name (``GET /v1/models`` lists them).
        api_key_env: The environment variable holding the API key (local servers take
            any; unset: ``"none"`` is sent).
        concurrency: Requests in flight at once (a vector env's step sends one per env).
        timeout: Seconds a request may take before it is retried.
        retries: Retries of a failed request (with backoff).
        temperature, top_p, max_tokens: Sampling settings sent with each request.
        partner_template, interviewer_template: As for the local chat agent.
        check: Ask the server for its models now, so an unreachable one fails at once.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        timeout: float = 60.0,
        retries: int = 3,
        temperature: float = 0.7,
        top_p: float = 0.9,
        max_tokens: int = 48,
        partner_template: str = PARTNER_TEMPLATE,
        interviewer_template: str = INTERVIEWER_TEMPLATE,
        check: bool = True,
    ) -> None:
        if not base_url or not str(base_url).startswith(("http://", "https://")):
            raise InvalidArgumentError(
                f"base_url={base_url!r}; pass the API's root URL, e.g. http://127.0.0.1:8000/v1."
            )
        if not model:
            raise InvalidArgumentError("model is empty; pass the served model's name.")
        if concurrency < 1 or retries < 0 or not timeout > 0:
            raise InvalidArgumentError(
                f"concurrency={concurrency}, retries={retries}, timeout={timeout}; pass at "
                "least 1 request at once, 0 or more retries and a positive timeout."
            )
        try:
            import openai
        except ImportError as err:
            raise MissingDependencyError(
                f"the served partner needs the openai client: {SERVED_EXTRA}."
            ) from err
        self.base_url, self.model = str(base_url).rstrip("/"), model
        self.openai = openai
        self.client = openai.OpenAI(
            base_url=self.base_url,
            api_key=os.environ.get(api_key_env) or "none",
            timeout=timeout,
            max_retries=retries,
        )
        self.temperature, self.top_p, self.max_tokens = temperature, top_p, max_tokens
        self.partner_template, self.interviewer_template = partner_template, interviewer_template
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="convenv-served")
        if check:
            self.check()

    def __getstate__(self) -> dict:
        raise TypeError(
            "a ServedChatAgent is not sent to other processes: name it (partner='openai' "
            "with base_url=) so each worker connects on its own."
        )

    def check(self) -> None:
        """Ask the server for its models (quickly): a clear error if it does not answer
        or does not serve ``model``."""
        try:
            served = [
                m.id for m in self.client.with_options(timeout=10, max_retries=0).models.list()
            ]
        except self.openai.APIConnectionError as err:
            raise ModelUnavailableError(
                f"base_url={self.base_url!r} does not answer ({type(err).__name__}: "
                f"{str(err)[:120]}); start the server or fix --base-url."
            ) from err
        except self.openai.APIStatusError as err:
            raise ModelUnavailableError(
                f"base_url={self.base_url!r} refused to list its models (HTTP "
                f"{err.status_code}); check the URL and the API key in the environment."
            ) from err
        if served and self.model not in served:
            raise ModelUnavailableError(
                f"model={self.model!r} is not served at {self.base_url} (it serves "
                f"{served[:5]}); pass one of those."
            )

    def respond(self, contexts: Sequence[DialogContext]) -> list[str]:
        conversations = [
            chat_messages(c, self.partner_template, self.interviewer_template) for c in contexts
        ]
        seeds = [c.seed for c in contexts]
        return list(self.pool.map(self._reply, conversations, seeds))

    def _reply(self, messages: list[dict], seed: int | None) -> str:
        extra = {} if seed is None else {"seed": int(seed) % 2**31}
        try:
            response = self.client.chat.completions.create(
                model=self.model,
                messages=messages,
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                top_p=self.top_p,
                **extra,
            )
        except self.openai.APIConnectionError as err:
            raise ModelUnavailableError(
                f"base_url={self.base_url!r} stopped answering ({type(err).__name__}); "
                "check the server."
            ) from err
        except self.openai.APIStatusError as err:
            raise ModelUnavailableError(
                f"the server at {self.base_url} refused a request (HTTP {err.status_code}: "
                f"{str(err)[:160]})."
            ) from err
        content = response.choices[0].message.content if response.choices else None
        return (content or "").strip()

    def close(self) -> None:
        self.pool.shutdown(wait=False)
