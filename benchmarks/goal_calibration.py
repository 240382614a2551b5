"""Calibration of the goal check on the hand-labelled proposals (5-fold, out of fold).

Prints expected calibration error, Brier score, what ``--auto-accept`` would take, and
how many misfits reach the head of the review queue, before (the topic softmax) and
after (the calibrated confidence); draws the reliability diagram.

Usage: python benchmarks/goal_calibration.py [--out docs/goal-calibration.png]
"""

from __future__ import annotations

import argparse

from convenv.actions import ActionSet
from convenv.encoder import SentenceEncoder
from convenv.training.goal_calibration import cross_validated, plot_reliability
from convenv.training.goal_judge import GoalJudge, read_goal_proposals, read_goal_questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/goal-calibration.png", help="the diagram")
    parser.add_argument("--threshold", type=float, default=0.9, help="the auto-accept bar")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    args = parser.parse_args()
    encoder = SentenceEncoder(device="cpu")

    def make_judge() -> GoalJudge:
        judge = GoalJudge(encoder, ActionSet())
        judge.calibrate(*read_goal_questions())
        return judge

    questions, codes, fits = read_goal_proposals()
    check = cross_validated(make_judge, questions, codes, fits, folds=args.folds)
    rows = [check.row("topic softmax (before)", check.before, args.threshold),
            check.row("calibrated (after)", check.after, args.threshold)]  # fmt: skip
    misfits = int((check.labels == 0).sum())
    print(f"{len(questions)} hand-labelled proposals, {misfits} do not fit their code; "
          f"{args.folds}-fold, out of fold; auto-accept at {args.threshold}\n")  # fmt: skip
    print("| confidence | ECE | Brier | auto-accepted | misfits auto-accepted | "
          f"misfits among the {misfits} most doubtful |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['confidence']} | {r['ece']:.3f} | {r['brier']:.3f} | {r['auto_accepted']} "
              f"| {r['misfits_auto_accepted']} | {r['misfits_in_review_head']} |")  # fmt: skip
    print(f"\nECE before / after: {rows[0]['ece'] / max(rows[1]['ece'], 1e-9):.1f}x")
    print(f"reliability diagram: {plot_reliability(check, args.out)}")


if __name__ == "__main__":
    main()
