"""Authentication (the seed paper's problem): is the partner who it claims to be?

Each episode draws a *claimed* persona; the partner is that persona (genuine) or an
impostor (:mod:`convenv.impostors`). The identifier's ranking of the claimed facts
among wrong ones is the *support* for the claim (the AUC of the claimed facts: 1 when
every claimed fact outscores every wrong one). The policy is rewarded by the support
signed by the truth (+ for genuine, − for an impostor), so it learns questions that
separate the two. A benchmark scores final support by ROC-AUC, equal error rate and
accuracy at a threshold calibrated on train (validation) personas.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from convenv.actions import ActionSet
from convenv.authentication_metrics import (
    accuracy_at,
    calibrate_threshold,
    equal_error_rate,
    roc_auc,
)
from convenv.errors import InvalidArgumentError
from convenv.impostors import IMPOSTOR_DESIGNS, MIXED_KINDS, ImpostorDesign
from convenv.metrics import fact_support
from convenv.personachat import Persona
from convenv.tasks.base import EpisodeStart, MainJobPlan, ObservationBatch, Statistic, Task

# Persona-Chat personas hold 3–5 facts; the observation shows this many claimed facts
# (a longer claim is still scored in full).
CLAIM_SLOTS = 5
# Softmax temperature over fact-to-code cosines: sharp enough that a fact's row
# names its topic, soft enough to keep a second topic visible.
TOPIC_TEMPERATURE = 0.05
# The parts of the observation, in order, and their widths for ``n`` action codes.
CLAIM_PARTS = (
    ("topics", lambda n: CLAIM_SLOTS * n),
    ("mask", lambda n: CLAIM_SLOTS),
    ("supports", lambda n: CLAIM_SLOTS),
    ("raw", lambda n: CLAIM_SLOTS),
    ("overall", lambda n: 1),
    ("open_claim", lambda n: n),
    ("asked", lambda n: n),
    ("use", lambda n: n),
    ("turn", lambda n: 1),
)
# The support a benchmark reads: the AUC of the claimed facts among the candidates.
SUPPORT = "auc"


def claim_layout(n_codes: int) -> dict[str, slice]:
    """Where each part of the authentication observation sits, for ``n_codes`` codes
    (``"width"``: the whole vector, ``"claim"``/``"dialog"``: the per-episode part and
    the part that comes from what the partner said)."""
    layout, start = {}, 0
    for name, width in CLAIM_PARTS:
        layout[name] = slice(start, start + width(n_codes))
        start += width(n_codes)
    layout["width"] = slice(0, start)
    layout["claim"] = slice(0, layout["mask"].stop)
    layout["dialog"] = slice(layout["supports"].start, layout["open_claim"].stop)
    return layout


class ClaimObservation:
    """The authentication observation: the claim and the evidence for it so far.

    For each of ``CLAIM_SLOTS`` claimed facts (zero-padded): its topic over the action
    codes (a softmax of fact-to-code-description cosines), whether the slot holds a
    fact, the fact's *support* (the share of wrong candidates it outscores; 0.5
    before anything was said) and its raw identifier score (best cosine with what
    the partner said). Then the overall support (their mean), each code's *open
    claim* (the mean over claimed facts of ``topic(fact, code) · (1 − support(fact))``:
    how much of the claim on that code's topic the answers have not yet backed; a
    product a small network learns slowly on its own), whether each code was asked,
    the share of turns each code was used, and the turn fraction.
    """

    def __init__(self, actions: ActionSet, encoder, max_turns: int) -> None:
        self.n_codes = len(actions)
        self.max_turns = max_turns
        self.encoder = encoder
        self.code_vectors = encoder.encode([a.description for a in actions])
        self.layout = claim_layout(self.n_codes)
        width = self.layout["width"].stop
        self.space = spaces.Box(-1.0, 1.0, shape=(width,), dtype=np.float32)

    def claim_features(self, claim: Persona) -> np.ndarray:
        """The per-episode part: each shown fact's topic distribution and the slot mask."""
        shown = list(claim[:CLAIM_SLOTS])
        cosines = self.encoder.encode(shown) @ self.code_vectors.T
        topics = np.exp((cosines - cosines.max(axis=1, keepdims=True)) / TOPIC_TEMPERATURE)
        topics /= topics.sum(axis=1, keepdims=True)
        features = np.zeros((CLAIM_SLOTS, self.n_codes), np.float32)
        features[: len(shown)] = topics
        mask = np.zeros(CLAIM_SLOTS, np.float32)
        mask[: len(shown)] = 1
        return np.concatenate([features.ravel(), mask])

    def observe(
        self,
        claim_features: np.ndarray,
        supports: np.ndarray,
        raw: np.ndarray,
        overall: np.ndarray,
        counts: np.ndarray,
        turns: np.ndarray,
    ) -> np.ndarray:
        """``(N, dim)`` observations; ``supports`` and ``raw`` are ``(N, CLAIM_SLOTS)``
        in claim order (0 on empty slots), ``counts`` ``(N, n_codes)`` code uses."""
        turns = np.asarray(turns, np.float64)
        topics = claim_features[:, self.layout["topics"]].reshape(-1, CLAIM_SLOTS, self.n_codes)
        mask = claim_features[:, self.layout["mask"]]
        shown = np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        open_claim = np.einsum("bs,bsc->bc", mask * (1.0 - supports), topics) / shown
        obs = np.concatenate(
            [
                claim_features,
                supports,
                raw,
                overall[:, None],
                open_claim,
                np.minimum(counts, 1),
                counts / self.max_turns,
                (turns / self.max_turns)[:, None],
            ],
            axis=1,
        )
        return np.clip(obs, -1.0, 1.0).astype(np.float32)


def claim_positions(claim: Persona, candidates: Sequence[str]) -> np.ndarray:
    """Where each shown claimed fact sits among the candidates (``CLAIM_SLOTS`` long,
    -1 on empty slots)."""
    where = {c: i for i, c in enumerate(candidates)}
    positions = np.full(CLAIM_SLOTS, -1, np.intp)
    for slot, fact in enumerate(claim[:CLAIM_SLOTS]):
        positions[slot] = where[fact]
    return positions


@dataclass(frozen=True)
class ClaimState:
    """Per episode: the claim's part of the observation and its facts' candidate rows."""

    features: np.ndarray
    positions: np.ndarray


def _option(help_text: str, **extra: Any) -> dict[str, Any]:
    return {"help": help_text, **extra}


@dataclass
class AuthenticationTask(Task):
    """Verify a claimed persona against a partner that may be an impostor.

    Observation: ``Box(-1, 1, (5 · n_codes + 5 + 5 + 5 + 1 + 3 · n_codes + 1,))``, 105
    wide for the 11 default codes (see :class:`ClaimObservation`).
    """

    genuine_rate: float = field(
        default=0.5, metadata=_option("share of episodes whose partner is the claimed persona")
    )
    impostor: str = field(
        default="random",
        metadata=_option(
            "impostors: random (another persona), overlap (the claim with --differ facts "
            "replaced), swap (replaced by same-topic facts), mixed (random or overlap)",
            choices=IMPOSTOR_DESIGNS,
        ),
    )
    differ: int = field(default=2, metadata=_option("facts an overlap or swap impostor changes"))
    threshold: float = field(
        default=0.5,
        metadata=_option(
            "the support that earns nothing: returns sum to sign x (support - threshold)"
        ),
    )

    name: ClassVar[str] = "authentication"
    summary: ClassVar[str] = "is the partner who it claims to be? genuine or impostor"
    claim_is_public: ClassVar[bool] = True
    # Support should mean identity, not topic: with same-topic wrong facts "i have a cat"
    # no longer supports a claimed "i have a dog" just by being about pets.
    default_negatives: ClassVar[str] = "hard"
    # The partner measured against people, and an identifier that does not pay for
    # contradictions: what a policy should learn to verify.
    default_partner: ClassVar[str] = "consistent"
    default_identifier: ClassVar[str] = "filtered"
    default_policies: ClassVar[tuple[str, ...]] = (
        "random", "round-robin", "best-fixed", "claim", "claim-adaptive", "lookahead",
    )  # fmt: skip
    best_heuristic: ClassVar[str | None] = "claim"
    headline: ClassVar[str] = "roc_auc"
    report_metrics: ClassVar[tuple[str, ...]] = ("roc_auc", "eer", "accuracy")
    lower_is_better: ClassVar[frozenset[str]] = frozenset({"eer"})
    observation_parts: ClassVar[frozenset[str]] = frozenset(
        [name for name, _ in CLAIM_PARTS] + ["width", "claim", "dialog"]
    )
    reset_option_keys: ClassVar[frozenset[str]] = frozenset({"genuine"})
    # It observes the identifier's support, not the answers' embedding.
    observes_answers: ClassVar[bool] = False
    bench_sweep: ClassVar[Mapping[str, tuple]] = {"impostor": MIXED_KINDS}
    calibration_episodes: ClassVar[int] = 256
    # Measured: the mean final support is about 0.6 (genuine 0.67, impostors 0.5–0.6);
    # centring the training reward there keeps its spread small. From scratch PPO
    # collapses onto repeating one code; started from the adaptive heuristic it does not.
    # One policy for both kinds of impostor the benchmark reports.
    train_defaults: ClassVar[Mapping[str, Any]] = {"impostor": "mixed"}
    main_job: ClassVar[MainJobPlan] = MainJobPlan(
        timesteps=300_000,
        train_options={"impostor": "mixed", "threshold": 0.6},
        warm_start="claim-adaptive",
        extra_policies=("ablate:{model}",),
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        self.design_of_impostors = ImpostorDesign(self.genuine_rate, self.impostor, self.differ)
        threshold = self.threshold
        number = not isinstance(threshold, bool) and isinstance(threshold, (int, float))
        if not number or not 0 <= threshold <= 1:
            raise InvalidArgumentError(f"threshold={threshold!r}; pass a number in [0, 1].")
        self.threshold = float(threshold)
        self.claim_observation: ClaimObservation | None = None

    def prepare(self) -> None:
        setting = self.bound
        self.claim_observation = ClaimObservation(
            setting.actions, setting.encoder, setting.max_turns
        )
        self.observation_space = self.claim_observation.space

    def dialog_slice(self) -> slice:
        return claim_layout(len(self.bound.actions))["dialog"]

    def observation_layout(self) -> dict[str, slice]:
        return claim_layout(len(self.bound.actions))

    def start(
        self,
        claim: Persona,
        personas: Sequence[Persona],
        facts: Sequence[str],
        rng: np.random.Generator,
        options: Mapping,
        nearest: Callable[[str], Sequence[str]],
    ) -> EpisodeStart:
        persona, genuine = self.design_of_impostors.draw_partner(
            claim, personas, facts, rng, options, nearest=nearest
        )
        return EpisodeStart(persona, genuine)

    def prepare_episode(self, episode) -> None:
        episode.task_state = ClaimState(
            self.claim_observation.claim_features(episode.claim),
            claim_positions(episode.claim, episode.candidates),
        )

    def interviewer_focus(self, episode, code: int) -> str | None:
        """The claimed fact whose topic is most the code's (the claim is public)."""
        topics = episode.task_state.features[: CLAIM_SLOTS * self.claim_observation.n_codes]
        slots = topics.reshape(CLAIM_SLOTS, -1)[: len(episode.claim), code]
        return episode.claim[int(slots.argmax())] if len(slots) else None

    def observe(self, batch: ObservationBatch) -> np.ndarray:
        support = fact_support(batch.scores, batch.truth, batch.valid)
        positions = np.stack([e.task_state.positions for e in batch.episodes])
        shown = positions >= 0
        safe = np.where(shown, positions, 0)
        slot_support = np.where(shown, np.take_along_axis(support, safe, axis=1), 0.0)
        slot_raw = np.where(shown, np.take_along_axis(batch.scores, safe, axis=1), 0.0)
        overall = np.where(batch.truth, support, 0.0).sum(axis=1) / batch.truth.sum(axis=1)
        return self.claim_observation.observe(
            np.stack([e.task_state.features for e in batch.episodes]),
            slot_support,
            slot_raw,
            overall,
            batch.counts,
            batch.turns,
        )

    def signs(self, episodes) -> np.ndarray:
        # Support for an impostor's claim is bad: −1 for an impostor, else +1.
        return np.array([-1.0 if e.genuine is False else 1.0 for e in episodes])

    def reward_origin(self) -> float:
        # The returns sum to sign × (support − threshold): the same best policy as
        # sign × support (E[sign] does not depend on the actions), with far less of the
        # variance the coin flip of genuine vs impostor adds.
        return self.threshold

    def reset_info(self, episode) -> dict[str, Any]:
        return {"claim": episode.claim}  # the partner's truth stays hidden

    def step_info(self, episode, ended: bool) -> dict[str, Any]:
        # The truth only once the episode is over.
        return {"genuine": episode.genuine, "persona": episode.persona} if ended else {}

    def calibrate(self, records: Sequence) -> dict[str, float]:
        turns = len(records[0].metrics)
        return {
            "threshold": calibrate_threshold(
                _support(records, turns), [bool(r.genuine) for r in records]
            )
        }

    def statistics(
        self, records: Sequence, turn: int, calibration: Mapping[str, float] | None = None
    ) -> dict[str, Statistic]:
        support = _support(records, turn)
        genuine = np.array([bool(r.genuine) for r in records])
        stats: dict[str, Statistic] = {
            "roc_auc": lambda idx: roc_auc(support[idx], genuine[idx]),
            "eer": lambda idx: equal_error_rate(support[idx], genuine[idx]),
        }
        if calibration and "threshold" in calibration:
            threshold = calibration["threshold"]
            stats["accuracy"] = lambda idx: accuracy_at(support[idx], genuine[idx], threshold)
        return stats

    def objective(self, records: Sequence, turn: int) -> float:
        support = _support(records, turn, self.bound.reward_metric)
        return roc_auc(support, [bool(r.genuine) for r in records])

    def algorithm_defaults(self, algorithm: str) -> dict[str, Any] | None:
        if algorithm != "ppo":
            return None
        # The reward carries the sign of a coin flip the policy cannot influence, so
        # each update needs many episodes to see the signal; and the gains of one code
        # over another are ~0.01 per episode, below what an entropy bonus of 0.01 pays
        # for staying random (measured: with it the policy stayed near uniform over 1M
        # steps; without it, it learned to ask about the claim).
        return {
            "n_steps": 64,
            "batch_size": 256,
            "n_epochs": 4,
            "learning_rate": 3e-4,
            "gae_lambda": 0.9,
            "ent_coef": 0.0,
            "gamma": 1.0,
        }


def _support(records: Sequence, turn: int, metric: str = SUPPORT) -> np.ndarray:
    """Each episode's claim support after ``turn`` questions (1-based)."""
    return np.array([r.metrics[turn - 1][metric] for r in records], np.float64)
