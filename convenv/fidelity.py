"""How faithfully a partner stands in for the people it imitates.

The ConvAI2 validation dialogs are replayed: at every turn of a speaker (after the
first utterance of the dialog), the partner gets that speaker's persona and the
dialog so far (the other speaker's real utterances, its own earlier answers), and
answers in the speaker's place. Its answers and the speaker's own
are then measured the same way, side by side:

- identification after 2 / 4 / 8 answers (precision@1, recall@5, MRR) over the same
  candidates (the persona's facts plus ``n_negatives`` random others);
- reveal rate: the share of the persona's facts that some answer sentence states
  (cosine ≥ ``threshold`` with the fact);
- wrong-candidate rate: the share of answer sentences that match a wrong candidate;
- relevance: the cosine between an answer and the utterance it answers;
- asked-about fact stated: on turns whose utterance is about one of the persona's
  facts (cosine ≥ 0.45 with the nearest), the share whose answer states that fact;
  another fact stated: the share of turns whose answer states some other fact; only
  restated facts: the share of turns whose answer states facts, all stated before
  by the same speaker. They are per turn (pooled over speakers), and show how much
  what is asked decides what is said, and how often a speaker repeats itself;
- contradiction and entailment rates: the share of answers the consistency judge
  (:mod:`convenv.consistency`) finds contradict or entail the persona.

Intervals resample dialogs (both speakers of a dialog together).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from convenv.agents.base import DialogContext
from convenv.candidates import CandidatePool
from convenv.metrics import ranking_metrics
from convenv.personachat import Dialog, fact_pool
from convenv.statistics import clustered_bootstrap, mean_of, ratio_of
from convenv.vocabulary import REVEAL_SIMILARITY, split_sentences, turn_reveals

FIGURES = ("precision@1", "recall@5", "mrr")
# Per-turn figures: their numerator and denominator are summed over speakers.
TURN_FIGURES = ("asked-about fact stated", "another fact stated", "only restated facts")


@dataclass
class ReplayCase:
    """One speaker of one dialog: what the person said and what the partner said instead."""

    dialog: int
    persona: tuple[str, ...]
    questions: list[str]  # the utterance each answer replies to
    human: list[str]
    partner: list[str]
    candidates: tuple[str, ...] = ()
    truth: np.ndarray | None = None


def replay(
    partner,
    dialogs: Sequence[Dialog],
    max_answers: int = 8,
    batch_size: int = 256,
    progress: bool = True,
    teacher_forced: bool = False,
) -> list[ReplayCase]:
    """The partner's answers in place of each speaker, turn by turn.

    The other speaker's utterances are the real ones; the speaker's own earlier turns
    are the partner's earlier answers, so it knows what *it* has said (what it
    volunteers and whether it repeats itself depend on that). ``teacher_forced``: the
    speaker's own real turns instead (every answer is then independent of the others).
    """
    cases: list[ReplayCase] = []
    slots: list[list[int]] = []  # per case: the dialog turn of each answer
    for k, dialog in enumerate(dialogs):
        for speaker in (1, 2):
            persona = dialog.persona_of(speaker)
            if not persona:
                continue
            case = ReplayCase(k, persona, [], [], [])
            turns = [j for j in range(speaker - 1, len(dialog.turns), 2) if j > 0]
            for j in turns[:max_answers]:  # the dialog's opener answers nothing
                case.questions.append(dialog.turns[j - 1])
                case.human.append(dialog.turns[j])
            cases.append(case)
            slots.append(turns[:max_answers])
    bar = tqdm(total=sum(map(len, slots)), desc="partner answers", disable=not progress)
    # Round r answers every case's r-th turn: its context holds the answers of rounds < r.
    for round_ in range(max((len(s) for s in slots), default=0)):
        playing = [i for i, s in enumerate(slots) if len(s) > round_]
        contexts = []
        for i in playing:
            case, j = cases[i], slots[i][round_]
            history = list(dialogs[case.dialog].turns[:j])
            if not teacher_forced:
                for earlier, answer in zip(slots[i][:round_], case.partner, strict=True):
                    history[earlier] = answer
            speaker = 1 if j % 2 == 0 else 2
            contexts.append(
                DialogContext(
                    tuple(history), case.persona, seed=j, dialog_seed=2 * case.dialog + speaker
                )
            )
        for start in range(0, len(contexts), batch_size):
            answers = partner.respond(contexts[start : start + batch_size])
            for i, answer in zip(playing[start : start + batch_size], answers, strict=True):
                cases[i].partner.append(answer)
            bar.update(len(answers))
    bar.close()
    return cases


def reveal_share(
    encoder, persona: Sequence[str], answers: Sequence[str], threshold: float = REVEAL_SIMILARITY
) -> float:
    """The share of the persona's facts that some answer sentence states."""
    sentences = [t for a in answers for t in split_sentences(a)] or [""]
    return _share(encoder.encode(list(persona)) @ encoder.encode(sentences).T, 1, threshold)


def _share(matrix: np.ndarray, axis: int, threshold: float) -> float:
    return float((matrix >= threshold).any(axis=axis).mean()) if matrix.size else 0.0


def measure(
    cases: Sequence[ReplayCase],
    identifier,
    n_answers: Sequence[int] = (2, 4, 8),
    n_negatives: int = 20,
    seed: int = 0,
    threshold: float = REVEAL_SIMILARITY,
    resamples: int = 1000,
    judge=None,
) -> dict[str, dict[str, tuple[float, float, float]]]:
    """``{figure: {"human": (mean, low, high), "partner": (...)}}`` for every figure."""
    rng = np.random.default_rng(seed)
    pool = CandidatePool(fact_pool([c.persona for c in cases]))
    for case in cases:  # one draw per case, shared by the person and the partner
        case.candidates, case.truth, _ = pool.draw(case.persona, n_negatives, rng)
    encoder = identifier.encoder
    clusters = [c.dialog for c in cases]
    per_case: dict[str, dict[str, list[float]]] = {}
    per_turn: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    for who in ("human", "partner"):
        said = [getattr(c, who) for c in cases]
        for n in n_answers:
            scores = identifier.score_batch([s[:n] for s in said], [c.candidates for c in cases])
            rows = [ranking_metrics(s, c.truth) for s, c in zip(scores, cases, strict=True)]
            for metric in FIGURES:
                per_case.setdefault(f"{metric} after {n}", {})[who] = [r[metric] for r in rows]
        reveal, wrong, relevance = [], [], []
        for case, answers in zip(cases, said, strict=True):
            sentences = [t for a in answers for t in split_sentences(a)] or [""]
            vectors = encoder.encode(sentences)
            negatives = [c for c, t in zip(case.candidates, case.truth, strict=True) if not t]
            reveal.append(reveal_share(encoder, case.persona, answers, threshold))
            wrong.append(_share(vectors @ encoder.encode(negatives).T, 1, threshold))
            relevance.append(
                float(
                    np.mean((encoder.encode(answers) * encoder.encode(case.questions)).sum(axis=1))
                )
            )
        per_case.setdefault("reveal rate", {})[who] = reveal
        turns = [
            turn_reveals(encoder, c.persona, c.questions, a, threshold)
            for c, a in zip(cases, said, strict=True)
        ]
        per_turn[("asked-about fact stated", who)] = (
            [float((t.answered & t.about).sum()) for t in turns],
            [float(t.about.sum()) for t in turns],
        )
        for figure, flags in (
            ("another fact stated", [t.another for t in turns]),
            ("only restated facts", [t.restated for t in turns]),
        ):
            per_turn[(figure, who)] = (
                [float(f.sum()) for f in flags],
                [float(len(f)) for f in flags],
            )
        per_case.setdefault("wrong-candidate rate", {})[who] = wrong
        per_case.setdefault("relevance", {})[who] = relevance
        if judge is not None:
            verdicts = [
                [judge.judge(c.persona, a) for a in s] for c, s in zip(cases, said, strict=True)
            ]
            for label, figure in (
                ("contradict", "contradiction rate"),
                ("entail", "entailment rate"),
            ):
                per_case.setdefault(figure, {})[who] = [
                    float(np.mean([v == label for v in case])) if case else 0.0 for case in verdicts
                ]
    results = {
        figure: {
            who: clustered_bootstrap(mean_of(values), clusters, resamples, seed=seed)
            for who, values in by_who.items()
        }
        for figure, by_who in per_case.items()
    }
    for (figure, who), (events, turns_of) in per_turn.items():
        statistic = ratio_of(events, turns_of)
        results.setdefault(figure, {})[who] = clustered_bootstrap(
            statistic, clusters, resamples, seed=seed
        )
    return results


def markdown_table(results: dict[str, dict[str, tuple[float, float, float]]], name: str) -> str:
    """People beside the partner, ``mean [low, high]``, one row per figure."""
    lines = [f"| figure | people | {name} |", "|---|---|---|"]
    for figure, by_who in results.items():
        cells = [
            f"{v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}]" for v in (by_who["human"], by_who["partner"])
        ]
        lines.append(f"| {figure} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
