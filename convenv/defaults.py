"""The embedded offline default: MiniLM encoder + retrieval agents over Persona-Chat.

Built once per process and shared, so N envs (or a vector env) hold one copy of
every model and index.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from convenv.actions import DEFAULT_ACTIONS, ActionCode
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


@lru_cache(maxsize=4)
def _build(pool_dialogs: int, device: str, actions: tuple[ActionCode, ...]) -> DefaultComponents:
    from convenv.agents.retrieval import RetrievalInterviewer, RetrievalPartner
    from convenv.agents.sentence_encoder import SentenceEncoder

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


def default_components(
    pool_dialogs: int = DEFAULT_POOL_DIALOGS,
    device: str = "auto",
    actions: tuple[ActionCode, ...] = DEFAULT_ACTIONS,
) -> DefaultComponents:
    """The process-wide offline components (built on first call, then reused)."""
    return _build(int(pool_dialogs), str(device), tuple(actions))
