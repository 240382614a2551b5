"""Append-only JSON Lines: one record per line, flushed and fsynced, torn tails skipped."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path


class JsonlWriter:
    """Appends records so that a crash never loses a finished line."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
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


def read_jsonl(path: Path | str) -> Iterator[dict]:
    """Every complete record; a torn line (a killed writer) is skipped with a warning.

    A crash tears at most the line being written; skipping it never costs the rest,
    also when later appends followed it.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            where = "last line" if number >= len(lines) - 1 else "line"
            warnings.warn(f"{path}: skipped a torn {where} {number}", stacklevel=2)
