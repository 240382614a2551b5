"""LabelStore: people's verdicts on interviewer questions, kept safely.

``LabelStore(path)`` opens the backend the path names: SQLite for ``.sqlite``,
``.sqlite3`` and ``.db`` (the default store, ``runs/labels.sqlite``; see
:mod:`convenv.training.label_db`), JSON Lines otherwise. Both have the same API, and
JSON Lines stays the import/export format (``convenv migrate-labels``).

In a JSON Lines store every record is appended, flushed and fsynced under an
exclusive file lock (the ``filelock`` package: it works where ``fcntl`` does not), so
a crash loses at most the line being written and two writers never interleave; a
writer waits for the lock up to ``lock_timeout`` seconds, then a
:class:`~convenv.errors.StoreError` says so. A
torn, corrupted or malformed line is skipped with a warning naming the file and line
when loading; identical examples load once.
"""

from __future__ import annotations

import errno
import json
import math
import os
import time
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from convenv.errors import DataFileError, InvalidArgumentError, StoreError
from convenv.training.jsonl import end_torn_line, read_jsonl_lines
from convenv.training.sqlite_file import DEFAULT_LOCK_TIMEOUT

VERDICTS = ("accept", "correct", "reject")
# Who "decided" a proposal accepted without a person (above --auto-accept).
AUTO_LABELLER = "auto"


@dataclass(frozen=True)
class LabelledExample:
    """One decision about a proposed question.

    Attributes:
        code: The action-code prompt the question should follow (e.g. ``"ask about pets."``).
        proposed: What the interviewer proposed.
        final: The question the person accepted or typed (empty when rejected).
        verdict: ``accept``, ``correct`` or ``reject``.
        history: The dialog before the question, oldest first.
        persona: The partner's persona facts, if known.
        labeller: Who decided (a name, ``"auto"`` for auto-accepted proposals).
        created: Unix time of the decision.
    """

    code: str
    proposed: str
    final: str
    verdict: str
    history: tuple[str, ...] = ()
    persona: tuple[str, ...] = ()
    labeller: str = "person"
    created: float = field(default_factory=time.time, compare=False)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise InvalidArgumentError(f"verdict={self.verdict!r}; pass one of {VERDICTS}.")
        for name in ("code", "proposed", "final", "labeller"):
            if not isinstance(getattr(self, name), str):
                raise InvalidArgumentError(f"{name}={getattr(self, name)!r}; pass a string.")
        if not self.code.strip():
            raise InvalidArgumentError("code is empty; pass the action code the question is for.")
        if self.verdict != "reject" and not self.final.strip():
            raise InvalidArgumentError(f"verdict={self.verdict!r} needs the final question text.")
        for name in ("history", "persona"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(t, str) for t in value):
                raise InvalidArgumentError(
                    f"{name}={value!r}; pass a list of strings, not one string."
                )
        created = self.created
        if isinstance(created, bool) or not isinstance(created, (int, float)):
            raise InvalidArgumentError(f"created={created!r}; pass a Unix time in seconds.")
        if not math.isfinite(created):
            raise InvalidArgumentError(f"created={created!r}; pass a Unix time in seconds.")

    @property
    def is_training_example(self) -> bool:
        """Accepted and corrected questions teach the interviewer; rejections do not."""
        return self.verdict in ("accept", "correct")

    def key(self) -> tuple:
        """Identity for de-duplication (the time of labelling does not count; the
        proposal does: two rejected proposals are two decisions)."""
        return (self.code, self.proposed, self.final, self.verdict, self.history, self.persona)

    @classmethod
    def from_dict(cls, row: object) -> LabelledExample:
        """A record as written by :meth:`LabelStore.append`; a clear error otherwise."""
        if not isinstance(row, dict):
            raise InvalidArgumentError(f"a record must be a JSON object, not {row!r}.")
        missing = [k for k in ("code", "verdict") if k not in row]
        if missing:
            raise InvalidArgumentError(f"the record has no {' or '.join(missing)}.")

        def strings(name: str) -> tuple:
            value = row.get(name, ())
            if isinstance(value, str) or not isinstance(value, (list, tuple)):
                raise InvalidArgumentError(f"{name}={value!r}; pass a list of strings.")
            return tuple(value)

        return cls(
            code=row["code"],
            proposed=row.get("proposed", ""),
            final=row.get("final", ""),
            verdict=row["verdict"],
            history=strings("history"),
            persona=strings("persona"),
            labeller=row.get("labeller", "person"),
            created=row.get("created", 0.0),
        )


SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
DEFAULT_STORE = "runs/labels.sqlite"


class LabelStore:
    """Decisions about proposed questions; ``LabelStore(path)`` opens the backend the
    path's suffix names (SQLite for .sqlite/.sqlite3/.db, JSON Lines otherwise)."""

    path: Path

    def __new__(cls, path: Path | str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT):
        if cls is LabelStore:
            from convenv.training.label_db import SQLiteLabelStore

            cls = SQLiteLabelStore if Path(path).suffix in SQLITE_SUFFIXES else JsonlLabelStore
        return super().__new__(cls)

    def append(self, example: LabelledExample) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def load(self) -> list[LabelledExample]:  # pragma: no cover - abstract
        raise NotImplementedError

    def decisions(self) -> list[LabelledExample]:  # pragma: no cover - abstract
        """Every decision, two people's identical decisions both."""
        raise NotImplementedError

    def extend(self, examples: Iterable[LabelledExample]) -> None:
        for example in examples:
            self.append(example)

    def training_examples(self, exclude_auto: bool = False) -> list[LabelledExample]:
        """Accepted and corrected examples; ``exclude_auto`` leaves out the ones a
        person never saw (auto-accepted, ``labeller == "auto"``)."""
        return [
            e
            for e in self.load()
            if e.is_training_example and not (exclude_auto and e.labeller == AUTO_LABELLER)
        ]

    def decided(self) -> set[tuple[str, str]]:
        """``(code, proposed question)`` pairs already decided, by anyone."""
        return {(e.code, e.proposed) for e in self.load()}

    def export_lines(self) -> Iterator[str]:
        """The de-duplicated examples as JSON Lines, one line at a time."""
        for example in self.load():
            row = asdict(example)
            row["history"], row["persona"] = list(row["history"]), list(row["persona"])
            yield json.dumps(row, ensure_ascii=False) + "\n"

    def export(self, path: Path | str) -> Path:
        """A de-duplicated JSON Lines copy for ``datasets.load_dataset("json", ...)``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as handle:
            handle.writelines(self.export_lines())
        return path

    def __len__(self) -> int:
        return len(self.load())


class JsonlLabelStore(LabelStore):
    """An append-only JSON Lines file of :class:`LabelledExample` records."""

    def __init__(self, path: Path | str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise InvalidArgumentError(
                f"path={str(path)!r} is a directory; pass a .jsonl file path."
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.timeout = lock_timeout
        self._lock = FileLock(str(self.path) + ".lock", timeout=lock_timeout)

    def append(self, example: LabelledExample) -> None:
        """Write one record durably (locked, flushed, fsynced) before returning."""
        line = (json.dumps(asdict(example), ensure_ascii=False) + "\n").encode("utf-8")
        with self._locked(), self._written():
            # A writer killed mid-line left a torn tail: end it (in bytes, so a tail
            # cut inside a multi-byte character is never decoded) so this record
            # starts on a line of its own.
            end_torn_line(self.path)
            with self.path.open("ab") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self._lock.acquire()
        except Timeout as err:
            raise StoreError(
                self.path,
                f"could not be written: another process holds {self._lock.lock_file} "
                f"(waited {self.timeout:g} s)",
                "Stop the other writer, or wait for it and pass a longer --lock-timeout.",
            ) from err
        try:
            yield
        finally:
            self._lock.release()

    @contextmanager
    def _written(self) -> Iterator[None]:
        try:
            yield
        except OSError as err:
            fix = (
                "Free space on its disk or move the store to another one; every record "
                "acknowledged before this one is stored."
                if err.errno == errno.ENOSPC
                else "Check that its folder exists and that you may write to it."
            )
            raise StoreError(self.path, f"could not be written ({err.strerror})", fix) from err

    def _examples(self) -> Iterator[LabelledExample]:
        if not self.path.exists():
            return
        if not self.path.is_file():
            raise DataFileError(self.path, "is not a file", "a JSON Lines label store")
        for number, row in read_jsonl_lines(self.path):
            try:
                yield LabelledExample.from_dict(row)
            except InvalidArgumentError as err:
                warnings.warn(f"{self.path}:{number}: skipped a malformed record: {err}",
                              stacklevel=3)  # fmt: skip

    def decisions(self) -> list[LabelledExample]:
        seen: dict[tuple, LabelledExample] = {}
        for example in self._examples():
            seen.setdefault((*example.key(), example.labeller), example)
        return list(seen.values())

    def load(self) -> list[LabelledExample]:
        """Every well-formed record once, in the order first written."""
        seen: dict[tuple, LabelledExample] = {}
        for example in self._examples():
            seen.setdefault(example.key(), example)
        return list(seen.values())
