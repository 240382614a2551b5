"""``convenv reference``: the identifier on real Persona-Chat validation dialogs."""

from __future__ import annotations

import argparse

from convenv.identifier import AGGREGATIONS, PersonaIdentifier
from convenv.metrics import METRIC_NAMES
from convenv.personachat import load_dialogs
from convenv.reference import identify_real_dialogs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="convenv reference", description=__doc__)
    parser.add_argument("--aggregation", default="max", choices=AGGREGATIONS)
    parser.add_argument("--no-sentences", action="store_true", help="score whole utterances")
    parser.add_argument("--utterances", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--limit", type=int, default=None, help="first N dialogs only")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from convenv.agents.sentence_encoder import SentenceEncoder

    identifier = PersonaIdentifier(SentenceEncoder(), args.aggregation, not args.no_sentences)
    dialogs = load_dialogs("test")[: args.limit] if args.limit else load_dialogs("test")
    results = identify_real_dialogs(identifier, dialogs, args.utterances, seed=args.seed)
    print(f"| utterances | {' | '.join(METRIC_NAMES)} |")
    print("|---" * (len(METRIC_NAMES) + 1) + "|")
    for n, row in results.items():
        cells = " | ".join(
            f"{row[m][0]:.3f} [{row[m][1]:.3f}, {row[m][2]:.3f}]" for m in METRIC_NAMES
        )
        print(f"| {n} | {cells} |")
    return 0
