"""``convenv migrate-labels SOURCE TARGET``: copy every decision of a label store into
another, JSON Lines ↔ SQLite by the file suffixes (``.sqlite``/``.sqlite3``/``.db`` is
SQLite). Existing records of the target are kept; each source record is checked to be
in the target afterwards. Running it twice adds nothing."""

from __future__ import annotations

import argparse

from convenv.cli import plain


def main(argv: list[str] | None = None) -> int:
    from convenv.training.label_db import migrate_labels

    parser = argparse.ArgumentParser(
        prog="convenv migrate-labels",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("source", help="the store to read (e.g. runs/labels.jsonl)")
    parser.add_argument("target", help="the store to write (e.g. runs/labels.sqlite)")
    parser.add_argument(
        "--dry-run", action="store_true", help="count what would be copied, write nothing"
    )
    args = parser.parse_args(argv)
    read, added = migrate_labels(args.source, args.target, args.dry_run)
    verb = "would be new" if args.dry_run else "new"
    print(f"read {read} decisions from {args.source}; {added} {verb} in {args.target}")
    return 0
