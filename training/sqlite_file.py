"""SQLite files that fail loudly: each failure becomes a :class:`StoreError` that names
the file, the cause and the fix (locked, disk full, corrupt, empty).

Shared by the label store and the labelling accounts. SQLite's own guidance is
followed: a busy timeout instead of failing on the first lock, ``PRAGMA
quick_check`` before writing to a file, and a rollback that never hides the error
that caused it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from convenv.errors import StoreError

DEFAULT_LOCK_TIMEOUT = 5.0  # seconds a writer waits for another one before giving up


def recovery_hint(path: Path) -> str:
    return (
        f"Keep the file and copy what it still holds into a new store: `convenv "
        f"migrate-labels {path} recovered.jsonl` (or `sqlite3 {path} .recover`), then pass "
        "the new file as --store."
    )


def refuse_empty(path: Path) -> None:
    """A 0-byte file where a store should be was cut short, or is not a store at all."""
    if path.is_file() and path.stat().st_size == 0:
        raise StoreError(
            path,
            "is empty (0 bytes), so it is not a usable store (cut short by a crash or a copy?)",
            "Restore it from a backup, or delete it to start a new store.",
        )


def connect(path: Path, lock_timeout: float) -> sqlite3.Connection:
    """A connection in autocommit mode with a busy timeout and durable commits."""
    with translated(path, "opened", lock_timeout):
        db = sqlite3.connect(path, timeout=lock_timeout, isolation_level=None)
        db.execute("PRAGMA synchronous=FULL")
        db.execute(f"PRAGMA busy_timeout={int(lock_timeout * 1000)}")
    return db


def integrity_problem(db: sqlite3.Connection) -> str | None:
    """What ``PRAGMA quick_check`` found wrong with the file's structure, or None for a
    sound file. A row breaking a CHECK or NOT NULL rule is not structural: readers skip
    such a row with a warning, and the file stays writable."""
    rows = [row[0] for row in db.execute("PRAGMA quick_check").fetchall()]
    rows = [r for r in rows if r != "ok" and "constraint failed" not in r and "NULL value" not in r]
    return "; ".join(" ".join(r.split()) for r in rows[:3]) or None


def rollback(db: sqlite3.Connection) -> None:
    """Undo an open transaction without masking the error that stopped it (on a full
    disk SQLite has often rolled back already; a second ROLLBACK would raise)."""
    if db.in_transaction:
        with suppress(sqlite3.Error):
            db.execute("ROLLBACK")


@contextmanager
def translated(path: Path, action: str, lock_timeout: float) -> Iterator[None]:
    """Turn ``sqlite3`` errors raised inside into :class:`StoreError` with a fix."""
    try:
        yield
    except sqlite3.OperationalError as err:
        message = str(err)
        if "locked" in message or "busy" in message:
            raise StoreError(
                path,
                f"could not be {action}: another process holds its lock (waited "
                f"{lock_timeout:g} s)",
                "Stop the other writer, or wait for it and pass a longer --lock-timeout.",
            ) from err
        if "full" in message:
            raise StoreError(
                path,
                f"could not be {action}: the disk is full (SQLite: {message})",
                "Free space on its disk or move the store to another one; every "
                "decision acknowledged before this one is stored.",
            ) from err
        if "readonly" in message or "unable to open" in message:
            raise StoreError(
                path,
                f"could not be {action} ({message})",
                "Check that its folder exists and that you may write to it.",
            ) from err
        raise StoreError(path, f"could not be {action} ({message})", recovery_hint(path)) from err
    except sqlite3.DatabaseError as err:  # malformed image, not a database, ...
        if "not a database" in str(err):
            fix = "Pass the path of a label store as --store, or restore this one from a backup."
            raise StoreError(path, "is not an SQLite database (or is encrypted)", fix) from err
        raise StoreError(path, f"is corrupt ({err})", recovery_hint(path)) from err
