"""Calibrate the consistent partner's reveal rates and strengths on people.

The study behind ``CALIBRATED_RATES``, ``PEOPLE_STRENGTHS`` and
``PEOPLE_STRENGTH_CORRELATION`` in ``agents/consistent_partner.py``: Persona-Chat
*train* dialogs 2000-2499 (outside the default pool's first 2,000) are replayed with
the partner in each speaker's place, on its own earlier answers, and

- ``answer`` is the people's rate of stating the fact a question is about;
- the statement strengths are the quantiles of how strongly people state the facts
  they touch (the best cosine of an answer sentence per fact);
- ``strength_correlation`` is the one whose speakers' intraclass correlation of
  strengths is nearest the people's;
- ``volunteer`` is found by bisection so that the share of its facts a speaker states
  within 8 answers equals the people's; of the spreads tried, the one nearest the
  people's spread of that share wins.

Run: ``.venv/bin/python benchmarks/calibrate_consistent_partner.py`` (about 8 minutes
on 2 cores); it prints the measured figures and the rates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from tqdm.auto import tqdm

from convenv.agents.consistent_partner import (
    CALIBRATED_RATES,
    PARAPHRASE_FLOOR,
    ConsistentPartner,
    RevealRates,
)
from convenv.agents.pool_authors import PoolAuthors
from convenv.consistency import ConsistencyJudge
from convenv.defaults import default_components, retrieval_authors
from convenv.errors import InvalidArgumentError
from convenv.fidelity import replay, reveal_share
from convenv.personachat import fact_pool, load_dialogs, load_personas
from convenv.vocabulary import split_sentences, turn_reveals


@dataclass(frozen=True)
class RevealCounts:
    """Per speaker turn: was the question about a fact, was it stated, was another."""

    about: np.ndarray
    answered: np.ndarray
    volunteered: np.ndarray

    def rates(self) -> RevealRates:
        return RevealRates(
            float(self.answered[self.about].mean()) if self.about.any() else 0.0,
            float(self.volunteered.mean()) if len(self.volunteered) else 0.0,
        )


def reveal_counts(encoder, cases: Sequence[tuple[tuple[str, ...], str, str]]) -> RevealCounts:
    """For (persona, question, answer) triples: question about a fact; that fact stated;
    another fact stated (the figures the rates are calibrated on)."""
    turns = [
        turn_reveals(encoder, persona, [question], [answer]) for persona, question, answer in cases
    ]
    return RevealCounts(
        np.array([bool(t.about[0]) for t in turns]),
        np.array([bool(t.answered[0]) for t in turns]),
        np.array([bool(t.another[0]) for t in turns]),
    )


def statement_strengths(
    encoder, cases: Sequence, floor: float = PARAPHRASE_FLOOR, quantiles: int = 11
) -> tuple[float, ...]:
    """Quantiles of how strongly the people of replay ``cases`` stated the facts they
    touched: per fact, the best cosine of a sentence of their answers, over the facts
    where it reaches ``floor``."""
    best: list[np.ndarray] = []
    for case in cases:
        sentences = [t for a in case.human for t in split_sentences(a)] or [""]
        best.append((encoder.encode(list(case.persona)) @ encoder.encode(sentences).T).max(1))
    touched = np.concatenate(best)
    touched = touched[touched >= floor]
    if not len(touched):
        raise InvalidArgumentError("no fact was touched in these dialogs; pass more dialogs.")
    values = np.quantile(touched, np.linspace(0.0, 1.0, quantiles))
    return tuple(round(float(v), 3) for v in values)


def strength_icc(encoder, cases: Sequence, who: str = "human", floor: float = PARAPHRASE_FLOOR):
    """How much of the variance of statement strengths is between speakers: the
    intraclass correlation (one-way ANOVA, ICC(1)) of the best cosine per touched fact
    (at least ``floor``), over speakers of replay ``cases`` who touched two facts or
    more; ``who`` is ``"human"`` or ``"partner"``."""
    groups = []
    for case in cases:
        sentences = [t for a in getattr(case, who) for t in split_sentences(a)] or [""]
        best = (encoder.encode(list(case.persona)) @ encoder.encode(sentences).T).max(1)
        if (best >= floor).sum() >= 2:
            groups.append(best[best >= floor])
    if len(groups) < 2:
        raise InvalidArgumentError("fewer than 2 speakers touched 2 facts; pass more dialogs.")
    values = np.concatenate(groups)
    sizes = np.array([len(g) for g in groups], np.float64)
    between = sum(len(g) * (g.mean() - values.mean()) ** 2 for g in groups) / (len(groups) - 1)
    within = sum(((g - g.mean()) ** 2).sum() for g in groups) / (len(values) - len(groups))
    size = (sizes.sum() - (sizes**2).sum() / sizes.sum()) / (len(groups) - 1)
    return float((between - within) / (between + (size - 1) * within))


def calibrate_rates(
    base,
    judge,
    dialogs,
    max_answers: int = 8,
    steps: int = 8,
    concentrations: Sequence[float | None] = (None,),
    correlations: Sequence[float] = (0.0,),
    progress: bool = True,
    authors=None,
) -> tuple[RevealRates, dict]:
    """Rates that make the partner reveal its persona as the people in ``dialogs`` did
    (train dialogs the pool was not built from), replaying them in the people's place.

    The strengths people state facts with come first (:func:`statement_strengths`),
    then of ``correlations`` the ``strength_correlation`` whose speaker ICC
    (:func:`strength_icc`) is nearest the people's, with the current rates.
    ``answer`` is the people's rate of stating the asked-about fact. For each of ``concentrations``
    (how much speakers differ), ``volunteer`` is found by bisection so that the share
    of its facts a speaker states within ``max_answers`` answers (fidelity's reveal
    rate) equals the people's; of those, the one whose spread of that share over
    speakers (standard deviation) is nearest the people's wins.
    With ``authors`` (:class:`~convenv.agents.pool_authors.PoolAuthors`) the partner
    skips the words of speakers who shared a fact with the persona it plays, as it
    must for personas whose speakers are not in the pool.
    Returns the rates and the measured figures (``strengths`` among them).
    """
    encoder = base.encoder
    cases = replay(base, dialogs, max_answers, progress=progress)
    strengths = statement_strengths(encoder, cases)
    triples = [(c.persona, q, h) for c in cases for q, h in zip(c.questions, c.human, strict=True)]
    mine = [(c.persona, q, a) for c in cases for q, a in zip(c.questions, c.partner, strict=True)]
    people, retrieval = (
        reveal_counts(encoder, triples).rates(),
        reveal_counts(encoder, mine).rates(),
    )
    answer = people.answer

    def partner_with(rates: RevealRates, correlation: float) -> ConsistentPartner:
        return ConsistentPartner(
            base,
            judge,
            rates,
            strengths=strengths,
            strength_correlation=correlation,
            authors=authors,
        )

    people_icc = strength_icc(encoder, cases)
    current = replace(CALIBRATED_RATES, answer=answer)
    iccs = [
        strength_icc(
            encoder,
            replay(partner_with(current, c), dialogs, max_answers, progress=False),
            "partner",
        )
        for c in correlations
    ]
    correlation = correlations[int(np.argmin([abs(i - people_icc) for i in iccs]))]

    def shares(who: str, rates: RevealRates | None = None) -> tuple[np.ndarray, list]:
        if rates is None:
            played = cases
        else:
            played = replay(partner_with(rates, correlation), dialogs, max_answers, progress=False)
        got = np.array([reveal_share(encoder, c.persona, getattr(c, who)) for c in played])
        return got, played

    wanted, _ = shares("human")
    bar = tqdm(total=steps * len(concentrations), desc="calibrating volunteer rate",
               disable=not progress)  # fmt: skip
    found: list[tuple[RevealRates, np.ndarray, list]] = []
    for concentration in concentrations:
        low, high = 0.0, 1.0
        for _ in range(steps):
            middle = (low + high) / 2
            got = shares("partner", RevealRates(answer, middle, concentration))[0].mean()
            low, high = (middle, high) if got < wanted.mean() else (low, middle)
            bar.update(1)
        rates = RevealRates(answer, round((low + high) / 2, 3), concentration)
        found.append((rates, *shares("partner", rates)))
    bar.close()
    rates, got, played = min(found, key=lambda found: abs(found[1].std() - wanted.std()))
    turns = [(c.persona, q, a) for c in played for q, a in zip(c.questions, c.partner, strict=True)]
    figures = {
        "people_per_turn": people.__dict__,
        "retrieval_per_turn": retrieval.__dict__,
        # Not fitted (only ``answer`` is set and the reveal share): a check.
        "consistent_per_turn": reveal_counts(encoder, turns).rates().__dict__,
        "people_reveal_rate": float(wanted.mean()),
        "people_reveal_spread": float(wanted.std()),
        "consistent_reveal_rate": float(got.mean()),
        "consistent_reveal_spread": float(got.std()),
        "candidates": [
            {**r.__dict__, "reveal_rate": float(g.mean()), "spread": float(g.std())}
            for r, g, _ in found
        ],
        "speakers": len(cases),
        "strengths": strengths,
        "people_strength_icc": people_icc,
        "strength_correlations": dict(zip(map(str, correlations), iccs, strict=True)),
        "strength_correlation": correlation,
    }
    return rates, figures


def main() -> None:

    components = default_components()
    judge = ConsistencyJudge(components.encoder, fact_pool(load_personas("train")))
    found, measured = calibrate_rates(
        components.partner, judge, load_dialogs("train")[2000:2500],
        concentrations=(0.5, 1.0, None), correlations=(0.3, 0.45, 0.6),
        authors=PoolAuthors(retrieval_authors()),
    )  # fmt: skip
    print(measured)
    print(found)


if __name__ == "__main__":
    main()
