"""Which aggregation identifies real Persona-Chat speakers best?

Runs the identifier on every validation dialog (both speakers, 20 negatives, seed 0)
after the first 2/4/8 utterances, for each aggregation with and without splitting
utterances into sentences, and prints precision@1 / recall@5 / MRR side by side.
Usage: python benchmarks/identifier_aggregation.py [--limit N]
"""

from __future__ import annotations

import argparse

from convenv.encoder import SentenceEncoder
from convenv.identifier import AGGREGATIONS, PersonaIdentifier
from convenv.personachat import load_dialogs
from convenv.reference import identify_real_dialogs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="first N dialogs only")
    args = parser.parse_args()
    encoder = SentenceEncoder()
    dialogs = load_dialogs("test")[: args.limit] if args.limit else load_dialogs("test")
    print("| aggregation | sentences | p@1 (2/4/8) | r@5 (2/4/8) | MRR (2/4/8) |")
    print("|---|---|---|---|---|")
    for sentences in (True, False):
        for aggregation in AGGREGATIONS:
            result = identify_real_dialogs(
                PersonaIdentifier(encoder, aggregation, sentences), dialogs
            )
            cells = [
                " / ".join(f"{result[n][metric][0]:.3f}" for n in (2, 4, 8))
                for metric in ("precision@1", "recall@5", "mrr")
            ]
            print(f"| {aggregation} | {sentences} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
