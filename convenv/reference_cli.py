"""``convenv reference``: the identifier on real Persona-Chat validation dialogs.

With ``--identifier PATH`` the fine-tuned identifier's table is printed with the
zero-shot one beside it, on the same candidates (hard negatives are always drawn by
the zero-shot encoder, so both face the same ones).
"""

from __future__ import annotations

import argparse

from convenv.cli import plain
from convenv.identifier import AGGREGATIONS, PersonaIdentifier
from convenv.metrics import METRIC_NAMES
from convenv.personachat import load_dialogs
from convenv.reference import identify_real_dialogs


def table(rows: dict[str, dict[int, dict[str, tuple[float, float, float]]]]) -> str:
    """One Markdown row per identifier and utterance count, ``mean [low, high]``."""
    lines = [f"| identifier | utterances | {' | '.join(METRIC_NAMES)} |"]
    lines.append("|---" * (len(METRIC_NAMES) + 2) + "|")
    for name, results in rows.items():
        for n, row in results.items():
            cells = " | ".join(
                f"{row[m][0]:.3f} [{row[m][1]:.3f}, {row[m][2]:.3f}]" for m in METRIC_NAMES
            )
            lines.append(f"| {name} | {n} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convenv reference",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--aggregation",
        default="max",
        choices=AGGREGATIONS,
        help="how a fact's similarities to the sentences become its score",
    )
    parser.add_argument("--no-sentences", action="store_true", help="score whole utterances")
    parser.add_argument(
        "--utterances", type=int, nargs="+", default=[2, 4, 8], help="identify after this many"
    )
    parser.add_argument("--limit", type=int, default=None, help="first N dialogs only")
    parser.add_argument("--seed", type=int, default=0, help="seeds the candidates drawn")
    parser.add_argument("--identifier", default=None, help="fine-tuned encoder directory")
    parser.add_argument(
        "--negatives",
        choices=("random", "hard"),
        default="random",
        help="wrong candidate facts: random or hard (same topic)",
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda:N")
    args = parser.parse_args(argv)
    from convenv.encoder import SentenceEncoder

    zero_shot = SentenceEncoder(device=args.device)
    identifiers = {"zero-shot": zero_shot}
    if args.identifier is not None:
        from convenv.defaults import encoder_directory

        directory = encoder_directory(args.identifier)
        identifiers["trained"] = SentenceEncoder(directory, device=args.device)
    dialogs = load_dialogs("test")[: args.limit] if args.limit else load_dialogs("test")
    hard = zero_shot if args.negatives == "hard" else None
    rows = {
        name: identify_real_dialogs(
            PersonaIdentifier(encoder, args.aggregation, not args.no_sentences),
            dialogs,
            args.utterances,
            seed=args.seed,
            hard_encoder=hard,
        )
        for name, encoder in identifiers.items()
    }
    print(f"{len(dialogs)} validation dialogs, both speakers, {args.negatives} negatives")
    print(table(rows))
    return 0
