"""Persona authentication: is the partner who it claims to be?

Each episode draws a *claimed* persona; the partner is that persona (genuine) or an
impostor. The identifier's ranking of the claimed facts among wrong ones is the
*support* for the claim (the AUC of the claimed facts: 1 when every claimed fact
outscores every wrong one). A policy is rewarded by the support signed by the truth
(+ for genuine, − for an impostor), so it learns questions that separate the two.

This module holds what authentication adds to the shared :class:`InterviewEngine`:
drawing impostors and the claim-aware observation. Scoring episodes (ROC-AUC, EER)
lives in :mod:`convenv.authentication_metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from convenv.actions import ActionSet
from convenv.errors import InvalidArgumentError
from convenv.fact_text import normalize_fact
from convenv.personachat import Persona

TASKS = ("identification", "authentication")
IMPOSTOR_KINDS = ("random", "overlap", "swap")
# "mixed": each impostor is random or overlap, half and half (to train one policy for
# both); the benchmark and the main job report these two kinds unless asked for more.
MIXED_KINDS = ("random", "overlap")
IMPOSTOR_DESIGNS = (*IMPOSTOR_KINDS, "mixed")
# A swap impostor's fact is drawn from this many facts nearest the claimed one it
# replaces (paraphrases excluded): near enough to share its topic ("i have a cat."
# for "i have a dog."), far enough down the list to vary.
SWAP_POOL = 10
# Persona-Chat personas hold 3–5 facts; the observation shows this many claimed facts
# (a longer claim is still scored in full).
CLAIM_SLOTS = 5
# Softmax temperature over fact-to-code cosines: sharp enough that a fact's row
# names its topic, soft enough to keep a second topic visible.
TOPIC_TEMPERATURE = 0.05


@dataclass(frozen=True)
class ImpostorDesign:
    """How often the partner is genuine and what an impostor looks like.

    Attributes:
        genuine_rate: Probability that the partner is the claimed persona.
        impostor: ``"random"``: another persona of the pool. ``"overlap"``: the
            claimed persona with ``differ`` facts replaced by facts of other
            personas, so it shares the rest of the claim. ``"swap"``: the same, but
            each replacement is on the replaced fact's topic (one of the facts nearest
            it, paraphrases excluded), so an answer on that topic is caught only if
            it is read for what it says, not for what it is about. ``"mixed"``:
            random or overlap, half and half.
        differ: Facts an ``overlap`` or ``swap`` impostor changes (at most all but one
            of the claim's facts, so it always shares one).
    """

    genuine_rate: float = 0.5
    impostor: str = "random"
    differ: int = 2

    def __post_init__(self) -> None:
        rate = self.genuine_rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise InvalidArgumentError(
                f"genuine_rate={rate!r}; pass a probability in [0, 1] (default 0.5)."
            )
        if self.impostor not in IMPOSTOR_DESIGNS:
            raise InvalidArgumentError(
                f"impostor={self.impostor!r}; pass one of {IMPOSTOR_DESIGNS}."
            )
        if isinstance(self.differ, bool) or not isinstance(self.differ, (int, np.integer)):
            raise InvalidArgumentError(f"differ={self.differ!r}; pass a positive integer.")
        if self.differ < 1:
            raise InvalidArgumentError(f"differ={self.differ!r}; pass a positive integer.")

    def draw_partner(
        self,
        claim: Persona,
        personas: Sequence[Persona],
        facts: Sequence[str],
        rng: np.random.Generator,
        options: Mapping | None = None,
        nearest: Callable[[str], Sequence[str]] | None = None,
    ) -> tuple[Persona, bool]:
        """The partner's persona and whether it is genuine (``options['genuine']`` pins it).

        ``nearest(fact)``: the facts nearest ``fact``, nearest first, paraphrases
        excluded (what a ``swap`` impostor's replacements are drawn from).
        """
        draw = rng.random()  # drawn even when pinned, so pinning changes nothing else
        pinned = (options or {}).get("genuine")
        if pinned is not None and not isinstance(pinned, (bool, np.bool_)):
            raise InvalidArgumentError(f"options['genuine']={pinned!r}; pass True or False.")
        genuine = bool(pinned) if pinned is not None else draw < self.genuine_rate
        if genuine:
            return claim, True
        kind = self.impostor
        if kind == "mixed":
            kind = MIXED_KINDS[int(rng.integers(len(MIXED_KINDS)))]
        if kind == "random":
            return self._other_persona(claim, personas, rng), False
        if kind == "swap":
            if nearest is None:
                raise InvalidArgumentError(
                    "impostor='swap' needs the facts nearest each claimed fact; pass "
                    "nearest= (the env passes its candidate pool's)."
                )
            return self._overlapping(claim, facts, rng, nearest), False
        return self._overlapping(claim, facts, rng), False

    @staticmethod
    def _other_persona(
        claim: Persona, personas: Sequence[Persona], rng: np.random.Generator
    ) -> Persona:
        claimed = set(claim)
        others = [i for i in range(len(personas)) if not claimed & set(personas[i])]
        if not others:
            raise InvalidArgumentError(
                "impostor='random' needs a persona that shares no fact with the claim; "
                "pass more personas or impostor='overlap'."
            )
        return personas[others[int(rng.integers(len(others)))]]

    def _overlapping(
        self,
        claim: Persona,
        facts: Sequence[str],
        rng: np.random.Generator,
        nearest: Callable[[str], Sequence[str]] | None = None,
    ) -> Persona:
        """The claim with ``differ`` facts replaced: by random facts, or with
        ``nearest`` by facts on the replaced one's topic."""
        kind = "overlap" if nearest is None else "swap"
        if len(claim) < 2:
            raise InvalidArgumentError(
                f"impostor={kind!r} needs claims of at least 2 facts (one shared, one "
                "changed); pass longer personas or impostor='random'."
            )
        changed = min(self.differ, len(claim) - 1)
        positions = rng.choice(len(claim), size=changed, replace=False)
        # Compared as normalized text: "i'm a nurse." replacing "i am a nurse" is no change.
        claimed = {normalize_fact(f) for f in claim}
        replacements: list[str] = []
        for position in positions.tolist():
            if nearest is None:
                draws = iter(lambda: facts[int(rng.integers(len(facts)))], None)
            else:
                near = [f for f in nearest(claim[position]) if normalize_fact(f) not in claimed]
                near = near[:SWAP_POOL]
                draws = iter(map(near.__getitem__, rng.permutation(len(near)).tolist()))
            fact = next((f for f in draws if normalize_fact(f) not in claimed), None)
            if fact is None:
                raise InvalidArgumentError(
                    f"impostor='swap' found no fact near {claim[position]!r} outside the "
                    "claim; pass more personas or impostor='overlap'."
                )
            claimed.add(normalize_fact(fact))
            replacements.append(fact)
        partner = list(claim)
        for position, fact in zip(positions.tolist(), replacements, strict=True):
            partner[position] = fact
        return tuple(partner)


# The parts of the authentication observation, in order, and their widths for
# ``n`` action codes (see ClaimObservation).
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

    def dialog_slice(self) -> slice:
        """Where the dialog part (what the partner's answers showed) sits in the vector."""
        return self.layout["dialog"]

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
