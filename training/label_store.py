"""LabelStore: people's verdicts on interviewer questions, kept safely in JSON Lines.

Every record is appended, flushed and fsynced under an exclusive file lock, so a
crash loses at most the line being written and two writers never interleave. A torn
last line is skipped with a warning when loading; identical examples load once.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from convenv.training.jsonl import read_jsonl

VERDICTS = ("accept", "correct", "reject")


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
            raise ValueError(f"verdict={self.verdict!r}; pass one of {VERDICTS}.")
        if not self.code.strip():
            raise ValueError("code is empty; pass the action code the question is for.")
        if self.verdict != "reject" and not self.final.strip():
            raise ValueError(f"verdict={self.verdict!r} needs the final question text.")

    @property
    def is_training_example(self) -> bool:
        """Accepted and corrected questions teach the interviewer; rejections do not."""
        return self.verdict in ("accept", "correct")

    def key(self) -> tuple:
        """Identity for de-duplication (the time of labelling does not count)."""
        return (self.code, self.final, self.verdict, self.history, self.persona)

    @classmethod
    def from_dict(cls, row: dict) -> LabelledExample:
        return cls(
            code=row["code"],
            proposed=row.get("proposed", ""),
            final=row.get("final", ""),
            verdict=row["verdict"],
            history=tuple(row.get("history", ())),
            persona=tuple(row.get("persona", ())),
            labeller=row.get("labeller", "person"),
            created=float(row.get("created", 0.0)),
        )


class LabelStore:
    """An append-only JSON Lines file of :class:`LabelledExample` records."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise ValueError(f"path={str(path)!r} is a directory; pass a .jsonl file path.")
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, example: LabelledExample) -> None:
        """Write one record durably (locked, flushed, fsynced) before returning."""
        line = json.dumps(asdict(example), ensure_ascii=False) + "\n"
        with self.path.open("a+", encoding="utf-8") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                # A writer killed mid-line left a torn tail: end it so this record
                # starts on a line of its own.
                if handle.seek(0, os.SEEK_END) > 0:
                    handle.seek(handle.tell() - 1)
                    if handle.read(1) != "\n":
                        line = "\n" + line
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def extend(self, examples: Iterable[LabelledExample]) -> None:
        for example in examples:
            self.append(example)

    def _rows(self) -> Iterator[dict]:
        if self.path.exists():
            yield from read_jsonl(self.path)

    def load(self) -> list[LabelledExample]:
        """Every record once, in the order first written."""
        seen: dict[tuple, LabelledExample] = {}
        for row in self._rows():
            example = LabelledExample.from_dict(row)
            seen.setdefault(example.key(), example)
        return list(seen.values())

    def training_examples(self) -> list[LabelledExample]:
        return [e for e in self.load() if e.is_training_example]

    def export(self, path: Path | str) -> Path:
        """A de-duplicated JSON Lines copy for ``datasets.load_dataset("json", ...)``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as handle:
            for example in self.load():
                row = asdict(example)
                row["history"], row["persona"] = list(row["history"]), list(row["persona"])
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        return path

    def __len__(self) -> int:
        return len(self.load())


def examples_for(examples: Sequence[LabelledExample], code: str) -> list[LabelledExample]:
    return [e for e in examples if e.code == code]
