"""The named speakers and identifiers: ``partner="consistent"`` and the like.

One table of each. A partner or an interviewer is a name from :data:`SPEAKERS` or any
object with ``respond(contexts)``; an identifier is a name from :data:`IDENTIFIERS`, a
fine-tuned encoder directory (``convenv train-identifier``) or an object. The command
line's choices and help come from these tables, and a new named speaker is one
:func:`register_speaker` line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convenv.actions import ActionSet
from convenv.errors import InvalidArgumentError, positive_int

PARTNER, INTERVIEWER = "partner", "interviewer"


@dataclass(frozen=True)
class SpeakerRequest:
    """What building a named speaker may need."""

    actions: ActionSet
    model: str | None
    device: str
    pool_dialogs: int
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    precision: str = "auto"
    preset: str | None = None  # "consistent:responsive" → "responsive"


@dataclass(frozen=True)
class SpeakerKind:
    """A named speaker: who it is, which roles it can take, and how it is built.

    ``build`` gets the request and the role; speakers built for both roles from one
    request are built once (a model answers as partner and interviewer).
    """

    name: str
    help: str
    roles: frozenset[str]
    build: Callable[[SpeakerRequest, str], Any]
    shared_between_roles: bool = False
    # Named variants, written NAME:PRESET ("consistent:responsive"); the first is the default.
    presets: tuple[str, ...] = ()


@dataclass(frozen=True)
class IdentifierKind:
    name: str
    help: str
    build: Callable[[SpeakerRequest], Any]


SPEAKERS: dict[str, SpeakerKind] = {}
IDENTIFIERS: dict[str, IdentifierKind] = {}


def register_speaker(kind: SpeakerKind) -> SpeakerKind:
    SPEAKERS[kind.name] = kind
    return kind


def register_identifier(kind: IdentifierKind) -> IdentifierKind:
    IDENTIFIERS[kind.name] = kind
    return kind


def speaker_names(role: str) -> tuple[str, ...]:
    """The names that can take ``role`` ("partner" or "interviewer"), presets written
    ``NAME:PRESET``."""
    names: list[str] = []
    for name, kind in SPEAKERS.items():
        if role in kind.roles:
            names += [name, *(f"{name}:{preset}" for preset in kind.presets)]
    return tuple(names)


def _kind_of(name: str) -> tuple[SpeakerKind | None, str | None]:
    base, _, preset = name.partition(":")
    kind = SPEAKERS.get(base)
    if kind is None or (preset and preset not in kind.presets):
        return None, None
    return kind, preset or (kind.presets[0] if kind.presets else None)


def speaker_help(role: str) -> str:
    """One line per name, for --help."""
    return "; ".join(f"{n}: {k.help}" for n, k in SPEAKERS.items() if role in k.roles)


def identifier_help() -> str:
    return "; ".join(f"{n}: {k.help}" for n, k in IDENTIFIERS.items()) + (
        "; or a fine-tuned encoder directory (convenv train-identifier)"
    )


def check_speaker(value: Any, role: str) -> None:
    """Refuse an unknown name or an object without ``respond``, before anything loads."""
    if value is None:
        return
    if isinstance(value, str):
        kind, _ = _kind_of(value)
        if kind is None or role not in kind.roles:
            raise InvalidArgumentError(
                f"{role}={value!r}; pass one of {speaker_names(role)} or an object with "
                "respond(contexts)."
            )
        return
    if not callable(getattr(value, "respond", None)):
        raise InvalidArgumentError(
            f"{role}={value!r} has no respond(contexts) method; pass a DialogAgent."
        )


def check_identifier(value: Any) -> None:
    """Refuse an unknown identifier name or a directory that holds no encoder."""
    if value is None or not isinstance(value, (str, Path)):
        return
    if str(value) in IDENTIFIERS:
        return
    if not (Path(value) / "config.json").exists():
        raise InvalidArgumentError(
            f"identifier={str(value)!r} is neither one of {tuple(IDENTIFIERS)} nor a "
            "sentence-transformers model directory; pass the directory convenv "
            "train-identifier saved (its model/ folder)."
        )


def resolve_speakers(
    partner: Any,
    interviewer: Any,
    identifier: Any,
    actions: ActionSet,
    model: str | None = None,
    device: str = "auto",
    pool_dialogs: int | None = None,
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    precision: str = "auto",
) -> tuple[Any, Any, Any]:
    """``(partner, interviewer, identifier)`` objects for names or objects (None: the
    offline default, retrieval speakers and the zero-shot MiniLM identifier)."""
    from convenv.defaults import DEFAULT_POOL_DIALOGS

    if pool_dialogs is not None:  # 0 or -1 must not silently mean "default" or "all but one"
        pool_dialogs = positive_int(pool_dialogs, "pool_dialogs")
    check_speaker(partner, PARTNER)
    check_speaker(interviewer, INTERVIEWER)
    check_identifier(identifier)
    request = SpeakerRequest(
        actions, model, device, pool_dialogs or DEFAULT_POOL_DIALOGS, base_url, api_key_env,
        precision,
    )  # fmt: skip
    built: dict[str, Any] = {}

    def one(value: Any, role: str) -> Any:
        if value is None:
            value = "retrieval"
        if not isinstance(value, str):
            return value
        kind, preset = _kind_of(value)
        key = value if kind.shared_between_roles else f"{value}|{role}"
        if key not in built:
            built[key] = kind.build(dataclasses.replace(request, preset=preset), role)
        return built[key]

    speaking = one(partner, PARTNER), one(interviewer, INTERVIEWER)
    if identifier is None or isinstance(identifier, (str, Path)):
        name = "zero-shot" if identifier is None else str(identifier)
        if name in IDENTIFIERS:
            identifier = IDENTIFIERS[name].build(request)
        else:
            from convenv.defaults import trained_identifier

            # Warm it on the retrieval pool only when a retrieval partner will speak.
            identifier = trained_identifier(
                identifier,
                device,
                request.pool_dialogs,
                warm=partner is None or partner in ("retrieval", "consistent"),
            )
    return (*speaking, identifier)


# --- the built-in speakers and identifiers ------------------------------------------


def _retrieval(request: SpeakerRequest, role: str):
    from convenv.defaults import default_components

    components = default_components(request.pool_dialogs, request.device, tuple(request.actions))
    return getattr(components, role)


def _consistent(request: SpeakerRequest, role: str):
    from convenv.defaults import consistent_partner

    return consistent_partner(
        request.pool_dialogs, request.device, tuple(request.actions), request.preset or "people"
    )


# A generative speaker samples its answers by default; ":greedy" makes it answer the
# same way every time, so a fork's gain is the question's, not a lucky draw's.
DECODING_PRESETS = ("sampled", "greedy")


def _samples(request: SpeakerRequest) -> bool:
    return request.preset != "greedy"


def _personagpt(request: SpeakerRequest, role: str):
    from convenv.agents.personagpt import DEFAULT_MODEL, PersonaGPTAgent

    return PersonaGPTAgent(
        request.model or DEFAULT_MODEL, device=request.device, precision=request.precision,
        do_sample=_samples(request),
    )  # fmt: skip


def _chat(request: SpeakerRequest, role: str):
    from convenv.agents.chat_model import ChatModelAgent

    return ChatModelAgent(
        request.model or "smollm2", device=request.device, precision=request.precision,
        do_sample=_samples(request),
    )  # fmt: skip


def _served(request: SpeakerRequest, role: str):
    from convenv.agents.served import ServedChatAgent

    if not request.base_url or not request.model:
        raise InvalidArgumentError(
            "the served partner needs base_url= (--base-url, e.g. http://127.0.0.1:8000/v1) "
            "and model= (--model, the served model's name)."
        )
    sampling = {} if _samples(request) else {"temperature": 0.0, "top_p": 1.0}
    return ServedChatAgent(request.base_url, request.model, request.api_key_env, **sampling)


def _zero_shot(request: SpeakerRequest):
    from convenv.defaults import default_components

    return default_components(
        request.pool_dialogs, request.device, tuple(request.actions)
    ).identifier


def _filtered(request: SpeakerRequest):
    from convenv.defaults import filtered_identifier

    return filtered_identifier(request.pool_dialogs, request.device, tuple(request.actions))


register_speaker(
    SpeakerKind(
        "retrieval",
        "Persona-Chat responses retrieved by MiniLM (the offline default)",
        frozenset({PARTNER, INTERVIEWER}),
        _retrieval,
    )
)
register_speaker(
    SpeakerKind(
        "consistent",
        "the retrieval partner that never contradicts its persona and reveals it as "
        "people do (consistent:responsive answers what it is asked far more often)",
        frozenset({PARTNER}),
        _consistent,
        presets=("people", "responsive"),
    )
)
register_speaker(
    SpeakerKind(
        "personagpt",
        "a causal LM in PersonaGPT's layout (--model: hub name, directory, GGUF file or "
        "'smollm2'; personagpt:greedy decodes greedily)",
        frozenset({PARTNER, INTERVIEWER}),
        _personagpt,
        shared_between_roles=True,
        presets=DECODING_PRESETS,
    )
)
register_speaker(
    SpeakerKind(
        "chat",
        "an instruct model with a chat template, the persona in its system message "
        "(--model: directory, hub name, GGUF file or smollm2; chat:greedy decodes greedily)",
        frozenset({PARTNER, INTERVIEWER}),
        _chat,
        shared_between_roles=True,
        presets=DECODING_PRESETS,
    )
)
register_speaker(
    SpeakerKind(
        "openai",
        "a model served behind an OpenAI-compatible API (vLLM, TGI, llama.cpp, convenv "
        "serve-chat): --base-url and --model (openai:greedy asks for temperature 0)",
        frozenset({PARTNER, INTERVIEWER}),
        _served,
        shared_between_roles=True,
        presets=DECODING_PRESETS,
    )
)
register_identifier(IdentifierKind("zero-shot", "MiniLM cosine, max over sentences", _zero_shot))
register_identifier(
    IdentifierKind(
        "filtered", "zero-shot MiniLM that gives no credit for contradictions", _filtered
    )
)
