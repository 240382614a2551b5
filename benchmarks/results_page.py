"""Write ``docs/results.md`` (and the README's results table) from run directories.

Each section is a run directory that a job wrote: its tables (``results.md`` of
``bench`` and ``main``, ``fidelity.md``, ``report.md``) with the command, the commit
and the date from its ``run.json``, so every number on the page names what produced
it. The README gets a short table from the main job's run.

    .venv/bin/python benchmarks/results_page.py --main runs/main \
        --section "Fidelity: the consistent partner=runs/fidelity-consistent" \
        --out docs/results.md --readme README.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

README_START, README_END = (
    "<!-- results: written by benchmarks/results_page.py -->",
    ("<!-- end of results -->"),
)
TABLES = ("results.md", "fidelity.md", "report.md", "table.md")


def manifest(directory: Path) -> dict:
    for path in (directory / "run.json", *directory.glob("*.run.json")):
        if path.exists():
            return json.loads(path.read_text())
    raise SystemExit(f"{directory} has no run.json: pass a directory a convenv job wrote")


def command_of(run: dict) -> str:
    argv = list(run.get("command") or [])
    # The console script, or `python -m convenv.cli` (argv[0] is then the module's path).
    if argv and argv[0].endswith(("convenv", "convenv/cli.py")):
        argv[0] = "convenv"
    return " ".join(argv)


def provenance(run: dict) -> str:
    commit = (run.get("git_commit") or "unknown")[:12]
    minutes = run.get("seconds", 0) / 60
    return (
        f"`{command_of(run)}` — commit `{commit}`, {run.get('started', '?')[:10]}, "
        f"{minutes:.0f} min"
    )


def section(title: str, directory: Path) -> str:
    run = manifest(directory)
    parts = [f"## {title}", "", provenance(run), ""]
    if (directory / "report.md").exists():  # a report holds its parts' tables already
        return "\n".join(parts + [report_body(directory / "report.md"), ""])
    found = False
    for name in TABLES:
        for path in sorted(directory.rglob(name)):
            text = path.read_text().strip()
            if len(list(directory.rglob(name))) > 1:
                parts += [f"From `{path.relative_to(directory)}`:", ""]
            parts += [text, ""]
            found = True
    if not found:
        raise SystemExit(f"{directory} holds none of {TABLES}")
    return "\n".join(parts)


def report_body(path: Path) -> str:
    """A report's tables one heading level down, without its title or its plots (the
    plots stay in the run directory)."""
    lines = []
    for line in path.read_text().splitlines():
        if line.startswith("# ") or line.startswith("!["):
            continue
        lines.append("#" + line if line.startswith("##") else line)
    return "\n".join(lines).strip()


def _value(row: dict, metric: str) -> str:
    value, low, high = row[metric]
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def _difference(result: dict, policy: str, metric: str) -> str:
    if policy == result["reference"]:
        return "—"
    value, low, high = result["differences"][policy][metric]
    return f"{value:+.3f} [{low:+.3f}, {high:+.3f}]"


def readme_table(main: Path) -> str:
    """One compact table per benchmark of the main job: each policy's headline metric
    and its paired difference from the best fixed sequence."""
    run = manifest(main)
    lines = [
        f"`{command_of(run)}` on a fresh clone (commit `{(run.get('git_commit') or '?')[:12]}`, "
        f"{run.get('seconds', 0) / 60:.0f} min on a 2-core CPU): 118 test personas × 8 "
        "episodes, 95% intervals over personas.",
        "",
    ]
    for path in sorted(main.glob("*/bench/results.json")):
        for result in json.loads(path.read_text()):
            metric = result["headline"]
            lines += [
                f"| {result['label']} | {metric} | − best fixed |",
                "|---|---|---|",
            ]
            for policy, row in result["rows"].items():
                lines.append(
                    f"| {policy} | {_value(row, metric)} | {_difference(result, policy, metric)} |"
                )
            lines.append("")
    return "\n".join(lines).rstrip()


FIDELITY_FIGURES = ("reveal rate", "asked-about fact stated", "contradiction rate")


def partners_table(reports: list[tuple[str, Path]]) -> str:
    """One row per reported partner (and the people, from the replayed dialogs): best
    fixed AUC per impostor kind, the headroom, the signal check and replay figures."""
    loaded = [(title, json.loads((d / "report.json").read_text())) for title, d in reports]
    # A report of some --parts only leaves the others' cells empty.
    full = next((r for _, r in loaded if "authentication" in r), {"authentication": []})
    kinds = [r["label"].split("impostor=")[-1] for r in full["authentication"]]
    head = [
        "partner",
        *(f"best fixed AUC, {k}" for k in kinds),
        *(f"lookahead − best fixed, {k}" for k in kinds),
        "model − constant (signal check)",
        *FIDELITY_FIGURES,
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cell(value) -> str:
        return f"{value[0]:.3f} [{value[1]:.3f}, {value[2]:.3f}]"

    people = next(r["fidelity"] for _, r in loaded if "fidelity" in r)
    lines.append(
        "| people (same dialogs) | " + " | ".join(["–"] * (2 * len(kinds) + 1))
        + " | " + " | ".join(cell(people[f]["human"]) for f in FIDELITY_FIGURES) + " |"
    )  # fmt: skip
    for title, report in loaded:
        results = report.get("authentication") or [None] * len(kinds)
        best = [cell(r["rows"]["best-fixed"][r["headline"]]) if r else "–" for r in results]
        bound = [
            cell(next(v for n, v in r["differences"].items() if n.startswith("lookahead"))[
                r["headline"]]) if r else "–"
            for r in results
        ]  # fmt: skip
        signal = (
            cell(report["signal_check"]["model − constant"]) if "signal_check" in report else "–"
        )
        replay = [cell(report["fidelity"][f]["partner"]) if "fidelity" in report else "–"
                  for f in FIDELITY_FIGURES]  # fmt: skip
        lines.append("| " + " | ".join([title, *best, *bound, signal, *replay]) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--main", type=Path, required=True, help="the main job's run directory")
    parser.add_argument(
        "--section", action="append", default=[], help="TITLE=RUN_DIRECTORY, in page order"
    )
    parser.add_argument("--out", type=Path, default=Path("docs/results.md"))
    parser.add_argument("--readme", type=Path, default=None, help="README to put the table in")
    parser.add_argument("--intro", type=Path, default=None, help="Markdown put first")
    args = parser.parse_args()
    pages = ["# Results", ""]
    if args.intro is not None:
        pages += [args.intro.read_text().strip(), ""]
    pages.append(section("The main job (`make run`)", args.main))
    reports = [
        (title, Path(d))
        for title, _, d in (item.partition("=") for item in args.section)
        if (Path(d) / "report.json").exists()
    ]
    if reports:
        pages += [
            "## Persona models under test (`convenv report`)",
            "",
            "Authentication on held-out personas and the replay of validation dialogs, "
            "per partner; each report's section below names its command.",
            "",
            partners_table(reports),
            "",
        ]
    for item in args.section:
        title, _, directory = item.partition("=")
        pages.append(section(title, Path(directory)))
    args.out.write_text("\n".join(pages).rstrip() + "\n")
    print(f"wrote {args.out}")
    if args.readme is not None:
        text = args.readme.read_text()
        start, end = text.index(README_START), text.index(README_END)
        table = readme_table(args.main)
        args.readme.write_text(text[: start + len(README_START)] + "\n" + table + "\n" + text[end:])
        print(f"wrote the results table into {args.readme}")


if __name__ == "__main__":
    main()
