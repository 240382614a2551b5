"""``convenv fidelity``: the partner measured against the people it stands in for.

Replays the ConvAI2 validation dialogs with the partner answering in each speaker's
place (see :mod:`convenv.fidelity`) and prints, beside the people's own answers, the
identification, reveal, wrong-candidate and relevance figures with 95% intervals.
Writes ``fidelity.md``, ``fidelity.json``, ``fidelity.png`` (identification
against answers, people vs partner) and ``replay.jsonl`` (per speaker: the persona,
the utterances answered, the people's answers and the partner's, to read side by side)
to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from convenv.arguments import add_speaker_arguments, positive, speakers_from_arguments
from convenv.cli import plain
from convenv.fidelity import FIGURES, markdown_table, measure, replay
from convenv.personachat import load_dialogs


def plot(results: dict, name: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = sorted({int(f.rsplit(" ", 1)[1]) for f in results if f.startswith("precision@1")})
    figure, axes = plt.subplots(1, len(FIGURES), figsize=(4.2 * len(FIGURES), 3.6))
    for axis, metric in zip(axes, FIGURES, strict=True):
        for who, label, colour in (("human", "people", "tab:blue"), ("partner", name, "tab:red")):
            values = [results[f"{metric} after {n}"][who] for n in counts]
            axis.plot(counts, [v[0] for v in values], "-o", color=colour, label=label)
            axis.fill_between(
                counts, [v[1] for v in values], [v[2] for v in values], color=colour, alpha=0.15
            )
        axis.set_xlabel("answers heard")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle("Identification from people's answers vs the partner's (95% intervals)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_replay(cases, path: Path, first: int = 0) -> None:
    """One JSON line per replayed speaker: what the people said and what the partner said
    (``dialog``: its index in the split, the replay having started at dialog ``first``)."""
    with path.open("w", encoding="utf-8") as handle:
        for case in cases:
            record = {
                "dialog": first + case.dialog,
                "persona": list(case.persona),
                "questions": case.questions,
                "people": case.human,
                "partner": case.partner,
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convenv fidelity",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_speaker_arguments(
        parser,
        only=("partner", "identifier", "model", "base_url", "api_key_env", "device", "precision"),
    )
    parser.add_argument(
        "--limit", type=positive("--limit"), default=None, help="first N dialogs only (unset: all)"
    )
    parser.add_argument(
        "--split",
        choices=("test", "train"),
        default="test",
        help="test: ConvAI2 validation dialogs; train: Persona-Chat train dialogs (with "
        "--skip 2000, outside the retrieval pool), to compare people across splits",
    )
    parser.add_argument("--skip", type=int, default=0, help="start at this dialog")
    parser.add_argument(
        "--answers",
        type=positive("--answers"),
        nargs="+",
        default=[2, 4, 8],
        help="identification figures after this many answers",
    )
    parser.add_argument(
        "--teacher-forced",
        action="store_true",
        help="the speaker's own earlier turns are the people's, not the partner's answers",
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds the candidates drawn")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: free)")
    parser.add_argument("--out", default="runs/fidelity", help="output directory")
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bars"
    )
    args = parser.parse_args(argv)
    from convenv.devices import set_torch_threads

    if args.skip < 0:
        parser.error("--skip takes 0 or more dialogs")
    started = time.time()
    set_torch_threads(args.threads)
    partner, _, identifier = speakers_from_arguments(args)
    every = load_dialogs(args.split)[args.skip :]
    dialogs = every[: args.limit] if args.limit else every
    from convenv.consistency import ConsistencyJudge
    from convenv.personachat import fact_pool, load_personas

    judge = ConsistencyJudge(identifier.encoder, fact_pool(load_personas("train")))
    cases = replay(
        partner, dialogs, max(args.answers), progress=args.progress,
        teacher_forced=args.teacher_forced,
    )  # fmt: skip
    results = measure(cases, identifier, args.answers, seed=args.seed, judge=judge)
    name = args.partner if args.model is None else f"{args.partner} ({args.model})"
    table = markdown_table(results, name)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fidelity.md").write_text(table + "\n")
    (out / "fidelity.json").write_text(json.dumps(results, indent=2))
    write_replay(cases, out / "replay.jsonl", args.skip)
    plot(results, name, out / "fidelity.png")
    from convenv.run_manifest import write_run_manifest

    write_run_manifest(out, "fidelity", vars(args), started, dialogs=len(dialogs))
    what = "validation" if args.split == "test" else f"train (from {args.skip})"
    print(f"{len(dialogs)} {what} dialogs, {len(cases)} speakers\n{table}")
    print(f"wrote {out}/fidelity.md, fidelity.json, fidelity.png, replay.jsonl")
    return 0
