"""The label store on SQLite: one transaction per decision, committed before returning.

The database runs in WAL mode with ``synchronous=FULL``, so a decision whose
``append`` returned survives a crash of the process or the machine, and readers (a
console session, a web app, a fine-tuning job) never block the writer. Several
processes may write at once: SQLite serialises them (``busy_timeout`` waits).

Every decision is a row, including the same decision by two people (agreement is
measured on them); :meth:`SQLiteLabelStore.load` de-duplicates as the JSON Lines store
does, so training sees each example once. The same person repeating the same decision
is stored once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from convenv.errors import DataFileError, InvalidArgumentError
from convenv.training.label_store import LabelledExample, LabelStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    example_key TEXT NOT NULL,
    code TEXT NOT NULL,
    proposed TEXT NOT NULL,
    final TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('accept', 'correct', 'reject')),
    history TEXT NOT NULL,
    persona TEXT NOT NULL,
    labeller TEXT NOT NULL,
    created REAL NOT NULL,
    UNIQUE (example_key, labeller)
);
CREATE INDEX IF NOT EXISTS decisions_by_proposal ON decisions (code, proposed);
"""
COLUMNS = "code, proposed, final, verdict, history, persona, labeller, created"


class SQLiteLabelStore(LabelStore):
    """A :class:`~convenv.training.label_store.LabelStore` in one SQLite file."""

    def __init__(self, path: Path | str, timeout: float = 30.0) -> None:
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise InvalidArgumentError(
                f"path={str(path)!r} is a directory; pass a .sqlite file path."
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout
        try:
            with closing(self._connect()) as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA)
        except sqlite3.DatabaseError as err:
            raise DataFileError(path, f"is not a usable SQLite database ({err})",
                                "a label store written by convenv") from err  # fmt: skip

    def _connect(self) -> sqlite3.Connection:
        # A connection per call: callers may be threads of a web server or processes.
        db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        db.execute("PRAGMA synchronous=FULL")
        db.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
        return db

    @staticmethod
    def _row(example: LabelledExample) -> tuple:
        return (
            json.dumps(example.key(), ensure_ascii=False),
            example.code,
            example.proposed,
            example.final,
            example.verdict,
            json.dumps(list(example.history), ensure_ascii=False),
            json.dumps(list(example.persona), ensure_ascii=False),
            example.labeller,
            float(example.created),
        )

    def append(self, example: LabelledExample) -> bool:
        """Store one decision in its own committed transaction; False if this person
        had already made exactly this decision (nothing new is stored)."""
        return self.append_many([example]) == 1

    def append_many(self, examples: Iterable[LabelledExample]) -> int:
        """Store decisions in one transaction (all or none); returns how many were new."""
        rows = [self._row(e) for e in examples]
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                before = db.total_changes
                db.executemany(
                    f"INSERT OR IGNORE INTO decisions (example_key, {COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                added = db.total_changes - before
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return added

    def extend(self, examples: Iterable[LabelledExample]) -> None:
        self.append_many(examples)

    def decisions(self) -> list[LabelledExample]:
        """Every stored decision, in the order made (two people's decisions both)."""
        with closing(self._connect()) as db:
            rows = db.execute(f"SELECT {COLUMNS} FROM decisions ORDER BY id").fetchall()
        return [
            LabelledExample(
                code=code,
                proposed=proposed,
                final=final,
                verdict=verdict,
                history=tuple(json.loads(history)),
                persona=tuple(json.loads(persona)),
                labeller=labeller,
                created=created,
            )
            for code, proposed, final, verdict, history, persona, labeller, created in rows
        ]

    def load(self) -> list[LabelledExample]:
        """Every example once (the first decision of its kind), in the order made."""
        seen: dict[tuple, LabelledExample] = {}
        for example in self.decisions():
            seen.setdefault(example.key(), example)
        return list(seen.values())

    def decided(self) -> set[tuple[str, str]]:
        with closing(self._connect()) as db:
            return set(db.execute("SELECT DISTINCT code, proposed FROM decisions").fetchall())

    def count(self) -> int:
        """How many decisions are stored (every person's)."""
        with closing(self._connect()) as db:
            return int(db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0])


def migrate_labels(
    source: Path | str, target: Path | str, dry_run: bool = False
) -> tuple[int, int]:
    """Copy every decision of one store into another (JSON Lines ↔ SQLite); returns
    ``(records read, records new in the target)``. Nothing is lost: each source
    example is checked to be in the target afterwards. ``dry_run`` only counts."""
    if not Path(source).is_file():
        raise InvalidArgumentError(f"source={str(source)!r} is not a file; pass a label store.")
    read = LabelStore(source).decisions()
    if dry_run and not Path(target).exists():  # opening it would create it
        return len(read), len(read)
    target_store = LabelStore(target)
    existing = target_store.decisions()
    if dry_run:
        have = {(e.key(), e.labeller) for e in existing}
        return len(read), len({(e.key(), e.labeller) for e in read} - have)
    before = len(existing)
    target_store.extend(read)
    after = target_store.decisions()
    missing = {e.key() for e in read} - {e.key() for e in after}
    if missing:  # pragma: no cover - would be a bug in a backend
        raise DataFileError(target, f"{len(missing)} records did not arrive", "every record")
    return len(read), len(after) - before
