"""Impostors: who the partner is when it is not the persona it claims to be.

An authentication episode draws a claimed persona; the partner is that persona
(genuine) with probability ``genuine_rate``, or an impostor built from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from convenv.errors import InvalidArgumentError
from convenv.personachat import Persona
from convenv.vocabulary import normalize_fact

IMPOSTOR_KINDS = ("random", "overlap", "swap")
# "mixed": each impostor is random or overlap, half and half (to train one policy for
# both); the benchmark and the main job report these two kinds unless asked for more.
MIXED_KINDS = ("random", "overlap")
IMPOSTOR_DESIGNS = (*IMPOSTOR_KINDS, "mixed")
# A swap impostor's fact is drawn from this many facts nearest the claimed one it
# replaces (paraphrases excluded): near enough to share its topic ("i have a cat."
# for "i have a dog."), far enough down the list to vary.
SWAP_POOL = 10


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
        """A persona drawn uniformly from those that share no fact with the claim."""
        claimed = set(claim)
        for _ in range(32):  # rejection: nearly every persona shares no fact
            other = personas[int(rng.integers(len(personas)))]
            if not claimed & set(other):
                return other
        others = [p for p in personas if not claimed & set(p)]
        if not others:
            raise InvalidArgumentError(
                "impostor='random' needs a persona that shares no fact with the claim; "
                "pass more personas or impostor='overlap'."
            )
        return others[int(rng.integers(len(others)))]

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
