"""Append-only JSON Lines: one record per line, flushed and fsynced, torn tails skipped."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

BOM = b"\xef\xbb\xbf"


class JsonlWriter:
    """Appends records so that a crash never loses a finished line."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        end_torn_line(self.path)
        self._handle = self.path.open("a", encoding="utf-8")

    def write(self, record: dict) -> None:
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def end_torn_line(path: Path) -> None:
    """If a killed writer left a last line without its newline, end it, in bytes: the
    torn bytes may stop inside a multi-byte character, which must never be decoded."""
    if not path.exists():
        return
    with path.open("rb+") as handle:
        if handle.seek(0, os.SEEK_END) == 0:
            return
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) != b"\n":
            handle.write(b"\n")
            handle.flush()
            os.fsync(handle.fileno())


def read_jsonl_lines(path: Path | str) -> Iterator[tuple[int, object]]:
    """``(line number, record)`` for every line that decodes as UTF-8 JSON.

    Lines are decoded one by one, so one bad byte costs one line; a torn line (a
    killed writer) or a corrupted one is skipped with a warning naming the file and
    the line. A UTF-8 byte-order mark at the start is not a torn line.
    """
    path = Path(path)
    data = path.read_bytes()
    if data.startswith(BOM):
        data = data[len(BOM) :]
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            yield number, json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            where = "a torn last line" if number >= len(lines) - 1 else "an unreadable line"
            warnings.warn(f"{path}:{number}: skipped {where}", stacklevel=2)


def read_jsonl(path: Path | str) -> Iterator[dict]:
    """Every readable record (see :func:`read_jsonl_lines`)."""
    for _, record in read_jsonl_lines(path):
        yield record
