"""Turn ``partner=``/``interviewer=`` arguments (an agent or a name) into agents."""

from __future__ import annotations

from pathlib import Path

from convenv.actions import ActionSet
from convenv.errors import InvalidArgumentError, positive_int

AGENT_KINDS = ("retrieval", "consistent", "personagpt")
INTERVIEWER_KINDS = ("retrieval", "personagpt")
FILTERED_IDENTIFIER = "filtered"


def resolve_agents(
    partner,
    interviewer,
    identifier,
    actions: ActionSet,
    model: str | None = None,
    device: str = "auto",
    pool_dialogs: int | None = None,
):
    """Return ``(partner, interviewer, identifier)``.

    ``None`` or ``"retrieval"`` picks the shared offline default; ``"consistent"`` (partner
    only) the default made consistent with its persona; ``"personagpt"`` loads
    PersonaGPT (``model`` is a hub name or a local directory); an object with a
    ``respond`` method is used as it is. ``identifier`` may be ``None`` (zero-shot
    MiniLM), ``"filtered"`` (zero-shot MiniLM giving no credit for contradictions), a
    fine-tuned encoder directory (``convenv train-identifier``) or an object.
    """
    from convenv.defaults import DEFAULT_POOL_DIALOGS, default_components

    if pool_dialogs is not None:  # 0 or -1 must not silently mean "default" or "all but one"
        pool_dialogs = positive_int(pool_dialogs, "pool_dialogs")

    needs_default = identifier is None or any(
        a is None or a in ("retrieval", "consistent") for a in (partner, interviewer)
    )
    defaults = (
        default_components(pool_dialogs or DEFAULT_POOL_DIALOGS, device, tuple(actions))
        if needs_default
        else None
    )
    shared_gpt: dict = {}

    def one(agent, role: str):
        if agent is None or agent == "retrieval":
            return getattr(defaults, role)
        if agent == "consistent":
            if role != "partner":
                raise InvalidArgumentError(
                    f"{role}='consistent' is a partner; pass 'retrieval' or 'personagpt'."
                )
            from convenv.defaults import consistent_partner

            return consistent_partner(pool_dialogs or DEFAULT_POOL_DIALOGS, device, tuple(actions))
        if agent == "personagpt":
            if "model" not in shared_gpt:
                from convenv.agents.personagpt import DEFAULT_MODEL, PersonaGPTAgent

                # One model instance serves both roles.
                shared_gpt["model"] = PersonaGPTAgent(model or DEFAULT_MODEL, device=device)
            return shared_gpt["model"]
        if isinstance(agent, str):
            raise InvalidArgumentError(f"{role}={agent!r}; pass one of {AGENT_KINDS} or an agent.")
        if not callable(getattr(agent, "respond", None)):
            raise InvalidArgumentError(
                f"{role}={agent!r} has no respond(contexts) method; pass a DialogAgent."
            )
        return agent

    if identifier == FILTERED_IDENTIFIER:
        from convenv.defaults import filtered_identifier

        identifier = filtered_identifier(
            pool_dialogs or DEFAULT_POOL_DIALOGS, device, tuple(actions)
        )
    elif isinstance(identifier, (str, Path)):
        from convenv.defaults import trained_identifier

        # Warm it on the retrieval pool only when the retrieval partner will speak.
        identifier = trained_identifier(
            identifier,
            device,
            pool_dialogs or DEFAULT_POOL_DIALOGS,
            warm=partner is None or partner in ("retrieval", "consistent"),
        )
    return (
        one(partner, "partner"),
        one(interviewer, "interviewer"),
        identifier if identifier is not None else defaults.identifier,
    )
