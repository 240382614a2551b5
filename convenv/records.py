"""EpisodeRecord: one finished interview, as benchmarks read it and self-play writes it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class EpisodeRecord:
    """One finished interview.

    ``claim`` is the persona whose facts were scored (the partner's own where the task
    has no claim to verify); ``genuine`` is None there, else whether the partner was
    the claimed persona; ``rewards`` are the per-turn rewards the env paid.
    """

    seed: int
    persona: list[str]
    candidates: list[str]
    is_true: list[bool]
    actions: list[int]
    codes: list[str]
    utterances: list[str]
    metrics: list[dict[str, float]]
    policy: str
    claim: list[str] = field(default_factory=list)
    genuine: bool | None = None
    rewards: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def final_metrics(self) -> dict[str, float]:
        return self.metrics[-1]
