"""The label store on SQLite: one transaction per decision, committed before returning.

The database runs in WAL mode with ``synchronous=FULL``, so a decision whose
``append`` returned survives a crash of the process or the machine, and readers (a
console session, a web app, a fine-tuning job) never block the writer. Several
processes may write at once: SQLite serialises them (``busy_timeout`` waits up to
the lock timeout, then a :class:`~convenv.errors.StoreError` says who to wait for).

Every decision is a row, including the same decision by two people (agreement is
measured on them); :meth:`SQLiteLabelStore.load` de-duplicates as the JSON Lines store
does, so training sees each example once. The same person repeating the same decision
is stored once.
"""

from __future__ import annotations

import json
import sqlite3
import warnings
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from convenv.errors import DataFileError, InvalidArgumentError, StoreError
from convenv.training.label_store import LabelledExample, LabelStore
from convenv.training.sqlite_file import (
    DEFAULT_LOCK_TIMEOUT,
    connect,
    integrity_problem,
    recovery_hint,
    refuse_empty,
    rollback,
    translated,
)

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
    """A :class:`~convenv.training.label_store.LabelStore` in one SQLite file.

    Opening checks the file (``PRAGMA quick_check``): a corrupt store is refused for
    writing, so an acknowledged decision is always one that can be read back, and
    what it still holds can be read (and copied out with ``convenv migrate-labels``).
    A row that cannot be read is skipped with a warning naming it.
    """

    def __init__(self, path: Path | str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise InvalidArgumentError(
                f"path={str(path)!r} is a directory; pass a .sqlite file path."
            )
        refuse_empty(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.timeout = lock_timeout
        self.problem: str | None = None  # what quick_check found; None for a sound file
        with closing(self._connect()) as db, self._translated("opened"):
            self.problem = integrity_problem(db)
            if self.problem is None:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        # A connection per call: callers may be threads of a web server or processes.
        return connect(self.path, self.timeout)

    def _translated(self, action: str):
        return translated(self.path, action, self.timeout)

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
        if self.problem is not None:
            raise StoreError(
                self.path,
                f"is corrupt (PRAGMA quick_check: {self.problem}), so nothing is written to it",
                recovery_hint(self.path),
            )
        rows = [self._row(e) for e in examples]
        with closing(self._connect()) as db, self._translated("written"):
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
                rollback(db)
                raise
        return added

    def extend(self, examples: Iterable[LabelledExample]) -> None:
        self.append_many(examples)

    def decisions(self) -> list[LabelledExample]:
        """Every stored decision, in the order made (two people's decisions both)."""
        examples: list[LabelledExample] = []
        read = 0
        with closing(self._connect()) as db:
            try:
                rows = db.execute(f"SELECT id, {COLUMNS} FROM decisions ORDER BY id")
                for row in rows:
                    read += 1
                    example = self._example(row)
                    if example is not None:
                        examples.append(example)
            except sqlite3.DatabaseError as err:
                if not read:
                    with self._translated("read"):
                        raise
                # A corrupt page mid-table: keep what was read before it, loudly.
                warnings.warn(
                    f"{self.path}: stopped reading after {read} rows ({err}); "
                    f"{recovery_hint(self.path)}",
                    stacklevel=2,
                )
        return examples

    def _example(self, row: tuple) -> LabelledExample | None:
        """The decision a row holds; None (with a warning naming the row) if it is bad."""
        row_id, code, proposed, final, verdict, history, persona, labeller, created = row
        try:
            return LabelledExample(
                code=code,
                proposed=proposed,
                final=final,
                verdict=verdict,
                history=tuple(json.loads(history)),
                persona=tuple(json.loads(persona)),
                labeller=labeller,
                created=created,
            )
        except (ValueError, TypeError) as err:  # InvalidArgumentError is a ValueError
            warnings.warn(f"{self.path}: skipped row id {row_id}: {err}", stacklevel=3)
            return None

    def load(self) -> list[LabelledExample]:
        """Every example once (the first decision of its kind), in the order made."""
        seen: dict[tuple, LabelledExample] = {}
        for example in self.decisions():
            seen.setdefault(example.key(), example)
        return list(seen.values())

    def decided(self) -> set[tuple[str, str]]:
        with closing(self._connect()) as db, self._translated("read"):
            return set(db.execute("SELECT DISTINCT code, proposed FROM decisions").fetchall())

    def count(self) -> int:
        """How many decisions are stored (every person's)."""
        with closing(self._connect()) as db, self._translated("read"):
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
