"""The embedded offline default: MiniLM encoder + retrieval agents over Persona-Chat.

Built once per process and shared, so N envs (or a vector env) hold one copy of
every model and index.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from convenv.actions import DEFAULT_ACTIONS, ActionCode
from convenv.errors import InvalidArgumentError
from convenv.identifier import PersonaIdentifier
from convenv.personachat import fact_pool, load_dialogs, load_personas

# 2,000 train dialogs ≈ 28k distinct utterances (+23k sentences of multi-sentence answers,
# +5k facts): about 2.5 min of MiniLM on 2 CPU cores the first time, then cached .npy
# files; enough responses to answer most topics in character.
DEFAULT_POOL_DIALOGS = 2000


@dataclass
class DefaultComponents:
    """The shared offline models: encoder, partner, interviewer, identifier."""

    encoder: object
    partner: object
    interviewer: object
    identifier: PersonaIdentifier


def retrieval_pairs(n_dialogs: int = DEFAULT_POOL_DIALOGS) -> list[tuple[str, str]]:
    """(context, response) pairs from the first ``n_dialogs`` Persona-Chat *train* dialogs.

    Only train dialogs: no test persona's own words reach the partner's pool.
    """
    pairs = []
    for dialog in load_dialogs("train")[:n_dialogs]:
        pairs.extend(zip(dialog.turns[:-1], dialog.turns[1:], strict=True))
    return pairs


def retrieval_authors(n_dialogs: int = DEFAULT_POOL_DIALOGS) -> list[tuple[str, ...]]:
    """The persona of the speaker who wrote each response of :func:`retrieval_pairs`."""
    authors = []
    for dialog in load_dialogs("train")[:n_dialogs]:
        # The response turns[j] (j >= 1) is speaker 1's for even j (Dialog.turns).
        authors.extend(
            dialog.persona_of(1 if j % 2 == 0 else 2) for j in range(1, len(dialog.turns))
        )
    return authors


@lru_cache(maxsize=4)
def _build(pool_dialogs: int, device: str, actions: tuple[ActionCode, ...]) -> DefaultComponents:
    from convenv.agents.retrieval import RetrievalInterviewer, RetrievalPartner
    from convenv.encoder import SentenceEncoder

    encoder = SentenceEncoder(device=device)
    pairs = retrieval_pairs(pool_dialogs)
    partner = RetrievalPartner(encoder, pairs)
    interviewer = RetrievalInterviewer(
        encoder,
        [response for _, response in pairs],
        goal_descriptions={a.prompt: a.description for a in actions},
    )
    identifier = PersonaIdentifier(encoder)
    personas = [*load_personas("train"), *load_personas("test")]
    identifier.warm([response for _, response in pairs], fact_pool(personas))
    partner.warm(interviewer.banked_questions())
    return DefaultComponents(encoder, partner, interviewer, identifier)


@lru_cache(maxsize=4)
def _trained_identifier(path: str, device: str) -> PersonaIdentifier:
    from convenv.encoder import SentenceEncoder

    return PersonaIdentifier(SentenceEncoder(path, device=device))


@lru_cache(maxsize=4)
def _warm(identifier: PersonaIdentifier, pool_dialogs: int) -> None:
    # The same warm-up as the default: everything the partner may say, embedded once
    # by this encoder and cached on disk under its own key.
    personas = [*load_personas("train"), *load_personas("test")]
    identifier.warm([r for _, r in retrieval_pairs(pool_dialogs)], fact_pool(personas))


def trained_identifier(
    path: str | Path,
    device: str = "auto",
    pool_dialogs: int = DEFAULT_POOL_DIALOGS,
    warm: bool = True,
) -> PersonaIdentifier:
    """An identifier on a fine-tuned encoder directory (``convenv train-identifier``
    writes one), one per process and path; ``warm`` embeds the retrieval pool ahead."""
    directory = encoder_directory(path)
    identifier = _trained_identifier(str(directory.resolve()), str(device))
    if warm:
        _warm(identifier, int(pool_dialogs))
    return identifier


def encoder_directory(path: str | Path) -> Path:
    """``path`` if it holds a sentence-transformers model, else a clear error."""
    directory = Path(path)
    if not (directory / "config.json").exists():
        raise InvalidArgumentError(
            f"identifier={str(path)!r} is not a sentence-transformers model directory; "
            "pass the directory convenv train-identifier saved (its model/ folder)."
        )
    return directory


@lru_cache(maxsize=4)
def _judge(pool_dialogs: int, device: str, actions: tuple[ActionCode, ...]):
    from convenv.consistency import ConsistencyJudge

    # Other personas' facts come from train personas only: no test persona's text.
    encoder = _build(pool_dialogs, device, actions).encoder
    return ConsistencyJudge(encoder, fact_pool(load_personas("train")))


@lru_cache(maxsize=4)
def _authors(pool_dialogs: int):
    from convenv.agents.pool_authors import PoolAuthors

    return PoolAuthors(retrieval_authors(pool_dialogs))


@lru_cache(maxsize=8)
def _consistent(pool_dialogs: int, device: str, actions: tuple[ActionCode, ...], preset: str):
    from convenv.agents.consistent_partner import PRESETS, ConsistentPartner

    if preset not in PRESETS:
        raise InvalidArgumentError(f"preset={preset!r}; pass one of {tuple(PRESETS)}.")
    return ConsistentPartner(
        _build(pool_dialogs, device, actions).partner,
        _judge(pool_dialogs, device, actions),
        rates=PRESETS[preset],
        authors=_authors(pool_dialogs),
    )


@lru_cache(maxsize=4)
def _filtered(pool_dialogs: int, device: str, actions: tuple[ActionCode, ...]):
    judge = _judge(pool_dialogs, device, actions)
    return PersonaIdentifier(judge.encoder, judge=judge)


def filtered_identifier(
    pool_dialogs: int = DEFAULT_POOL_DIALOGS,
    device: str = "auto",
    actions: tuple[ActionCode, ...] = DEFAULT_ACTIONS,
) -> PersonaIdentifier:
    """The default zero-shot identifier that gives no credit for sentences contradicting
    a candidate fact (:class:`~convenv.identifier.PersonaIdentifier` with a judge)."""
    return _filtered(int(pool_dialogs), str(device), tuple(actions))


def consistent_partner(
    pool_dialogs: int = DEFAULT_POOL_DIALOGS,
    device: str = "auto",
    actions: tuple[ActionCode, ...] = DEFAULT_ACTIONS,
    preset: str = "people",
):
    """The default retrieval partner made consistent with its persona, revealing it at
    the rates of ``preset`` (``people``: calibrated on Persona-Chat's people;
    ``responsive``: it answers what it is asked; see
    :data:`~convenv.agents.consistent_partner.PRESETS`)."""
    return _consistent(int(pool_dialogs), str(device), tuple(actions), str(preset))


def default_components(
    pool_dialogs: int = DEFAULT_POOL_DIALOGS,
    device: str = "auto",
    actions: tuple[ActionCode, ...] = DEFAULT_ACTIONS,
) -> DefaultComponents:
    """The process-wide offline components (built on first call, then reused)."""
    return _build(int(pool_dialogs), str(device), tuple(actions))
