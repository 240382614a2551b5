"""How well the consistency judge's fitted thresholds generalise to answers it was not
fitted on: 2-fold held-out scores on ``data/consistency.csv`` (300 hand-labelled
answers of train-persona episodes), then the thresholds fitted on all of them.

Run: ``.venv/bin/python benchmarks/consistency_judge.py`` (about a minute).
"""

from __future__ import annotations

from collections.abc import Sequence

from convenv.consistency import (
    ConsistencyJudge,
    LabelledAnswer,
    fit_judge,
    read_consistency_set,
    scores,
)
from convenv.defaults import default_components
from convenv.personachat import fact_pool, load_personas


def held_out_scores(judge: ConsistencyJudge, rows: Sequence[LabelledAnswer], folds: int = 2):
    """Scores of thresholds fitted on the other folds (how well the fit generalises)."""
    truth, predicted = [], []
    for k in range(folds):
        train = [r for i, r in enumerate(rows) if i % folds != k]
        test = [r for i, r in enumerate(rows) if i % folds == k]
        fit_judge(judge, train)
        truth += [r.label for r in test]
        predicted += [judge.judge(r.persona, r.answer) for r in test]
    return scores(truth, predicted)


def main() -> None:
    encoder = default_components().encoder
    rows = read_consistency_set()
    judge = ConsistencyJudge(encoder, fact_pool(load_personas("train")))
    held_out = held_out_scores(judge, rows)
    fitted = fit_judge(judge, rows)
    counts = {
        label: sum(r.label == label for r in rows) for label in ("entail", "neutral", "contradict")
    }
    print(f"{len(rows)} labelled answers: {counts}")
    print("| | accuracy | macro-F1 | contradiction recall | contradiction precision |")
    print("|---|---|---|---|---|")
    for name, row in (("held out (2-fold)", held_out), ("fitted on all", fitted)):
        print(
            f"| {name} | {row['accuracy']:.2f} | {row['macro_f1']:.2f} | "
            f"{row['contradiction_recall']:.2f} | {row['contradiction_precision']:.2f} |"
        )
    print(f"thresholds: entail {fitted['entail']:.3f}, topic {fitted['topic']:.3f}, "
          f"margin {fitted['margin']:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
