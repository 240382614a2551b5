"""Persona-Chat: dialogs and persona lists, from the ``convogym`` package or ConvAI2 files.

The ``convogym`` package is used as a data carrier only: its files are located through
the installed distribution and read here; its code is never imported.
"""

from __future__ import annotations

import ast
import csv
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from convenv.errors import DataFileError, InvalidArgumentError

EOT = "<|endoftext|>"
SPLITS = ("train", "test")
# convogym's train split holds 17,877 rows: 8,939 dialogs, then each again minus its last
# utterance (sometimes with small edits the prefix check misses); only the first are kept.
CONVOGYM_TRAIN_DIALOGS = 8939
Persona = tuple[str, ...]


@dataclass(frozen=True)
class Dialog:
    """One Persona-Chat conversation.

    Attributes:
        turns: Utterances in order; ``turns[0::2]`` are speaker 1's, ``turns[1::2]`` speaker 2's.
        persona1: Speaker 1's facts (empty when the source does not give them).
        persona2: Speaker 2's facts.
        split: ``"train"`` or ``"test"`` (the ConvAI2 validation set).
    """

    turns: tuple[str, ...]
    persona1: Persona
    persona2: Persona
    split: str

    def utterances_of(self, speaker: int) -> tuple[str, ...]:
        """Utterances of speaker 1 or 2."""
        if speaker not in (1, 2):
            raise InvalidArgumentError(f"speaker={speaker!r}; pass 1 or 2.")
        return self.turns[speaker - 1 :: 2]

    def persona_of(self, speaker: int) -> Persona:
        return self.persona1 if speaker == 1 else self.persona2


def as_persona(facts: Iterable[str], name: str = "persona") -> Persona:
    """Validate persona facts: a non-empty list of non-empty strings."""
    if isinstance(facts, str):
        raise InvalidArgumentError(f"{name}={facts!r} is one string; pass a list of fact strings.")
    facts = list(facts)
    if not all(isinstance(f, str) for f in facts):
        raise InvalidArgumentError(
            f"{name}={facts!r} holds something other than strings; pass fact strings, "
            "e.g. ['i have a dog.', 'i work as a nurse.']."
        )
    cleaned = tuple(f.strip() for f in facts)
    if not cleaned or any(not f for f in cleaned):
        raise InvalidArgumentError(
            f"{name}={list(facts)!r} must hold at least one non-empty fact, "
            "e.g. ['i have a dog.', 'i work as a nurse.']."
        )
    return cleaned


def convogym_data_dir() -> Path:
    """The ``data/`` folder shipped by the ``convogym==0.1.2`` distribution."""
    try:
        dist = metadata.distribution("convogym")
    except metadata.PackageNotFoundError as err:
        raise DataFileError(
            "convogym", "the package is not installed", "'pip install convogym==0.1.2'"
        ) from err
    return Path(str(dist.locate_file("convogym/data")))


def _strip(text: str) -> str:
    return text.replace(EOT, "").strip()


def _parse_list(cell: str, path: Path, row: int, column: str) -> list[str]:
    try:
        value = ast.literal_eval(cell)  # literal_eval parses data only, never runs code
    except (ValueError, SyntaxError) as err:
        raise DataFileError(
            path, f"row {row} column {column!r} is not a list literal", "a Python list of strings"
        ) from err
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataFileError(path, f"row {row} column {column!r}", "a list of strings")
    return [_strip(v) for v in value]


def read_personachat_csv(path: Path | str) -> list[Dialog]:
    """Read convogym's ``personachat.csv`` (columns hx, p1, p2, split).

    The train split repeats each dialog minus its last utterance; such truncated
    copies are dropped so each conversation appears once.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "file not found", "convogym's personachat.csv")
    csv.field_size_limit(sys.maxsize)
    dialogs: list[Dialog] = []
    seen: dict[tuple[Persona, Persona, str], list[tuple[str, ...]]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"hx", "p1", "p2", "split"} <= set(reader.fieldnames):
            raise DataFileError(
                path, f"header is {reader.fieldnames}", "a CSV with columns hx, p1, p2, split"
            )
        for row_number, row in enumerate(reader, start=2):
            split = row["split"]
            if split not in SPLITS:
                raise DataFileError(path, f"row {row_number} has split {split!r}", "train or test")
            turns = tuple(_parse_list(row["hx"], path, row_number, "hx"))
            p1 = tuple(_parse_list(row["p1"], path, row_number, "p1"))
            p2 = tuple(_parse_list(row["p2"], path, row_number, "p2"))
            key = (p1, p2, split)
            earlier = seen.setdefault(key, [])
            if any(prev[: len(turns)] == turns for prev in earlier):
                continue
            earlier.append(turns)
            dialogs.append(Dialog(turns, p1, p2, split))
    if not dialogs:
        raise DataFileError(path, "no dialogs", "at least one data row")
    return dialogs


def read_persona_csv(path: Path | str) -> list[Persona]:
    """Read a persona list with header ``Fact 1..Fact 5`` (empty cells allowed)."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "file not found", "a CSV of personas with header Fact 1..Fact N")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header or not all(h.strip().lower().startswith("fact") for h in header):
            raise DataFileError(path, f"header is {header}", "a header 'Fact 1,Fact 2,...'")
        personas = [tuple(c.strip() for c in row if c.strip()) for row in reader]
    personas = [p for p in personas if p]
    if not personas:
        raise DataFileError(path, "no personas", "at least one row of facts")
    return personas


def read_convai2_txt(path: Path | str, split: str = "train") -> list[Dialog]:
    """Read a ConvAI2 ``*_both_original*.txt`` file (both speakers' personas)."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "file not found", "a ConvAI2 *_both_original*.txt file")
    dialogs: list[Dialog] = []
    p1: list[str] = []
    p2: list[str] = []
    turns: list[str] = []

    def flush() -> None:
        if turns:
            dialogs.append(Dialog(tuple(turns), tuple(p1), tuple(p2), split))

    for line_number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        number, _, text = raw.partition(" ")
        if not number.isdigit():
            raise DataFileError(
                path, f"line {line_number} does not start with a turn number", "'N text' lines"
            )
        if number == "1":
            flush()
            p1, p2, turns = [], [], []
        if text.startswith("your persona:"):
            p2.append(text[len("your persona:") :].strip())
        elif text.startswith("partner's persona:"):
            p1.append(text[len("partner's persona:") :].strip())
        else:
            parts = text.split("\t")
            if len(parts) < 2:
                raise DataFileError(
                    path, f"line {line_number} has no tab-separated reply", "'N utterance\\treply'"
                )
            turns.extend(u.strip() for u in parts[:2] if u.strip() != "__SILENCE__")
    flush()
    if not dialogs:
        raise DataFileError(path, "no dialogs", "ConvAI2 dialog lines")
    return dialogs


def read_personachat_json(path: Path | str) -> list[Dialog]:
    """Read ``personachat_self_original.json`` (only the responder's persona is known)."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "file not found", "personachat_self_original.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataFileError(path, f"not valid JSON ({err})", "a JSON object") from err
    if not isinstance(data, dict):
        raise DataFileError(path, "top level is not an object", "{'train': [...], 'valid': [...]}")
    dialogs: list[Dialog] = []
    for key, split in (("train", "train"), ("valid", "test")):
        for i, item in enumerate(data.get(key, [])):
            try:
                last = item["utterances"][-1]
                turns = [*last["history"], last["candidates"][-1]]
                persona = tuple(item["personality"])
            except (KeyError, IndexError, TypeError) as err:
                raise DataFileError(
                    path,
                    f"{key}[{i}] lacks personality/utterances",
                    "ParlAI's self_original layout",
                ) from err
            turns = [t for t in turns if t.strip() not in ("__ SILENCE __", "__SILENCE__")]
            # The responder (persona owner) speaks second unless the dialog opened in silence.
            opened_silently = last["history"] and "SILENCE" in last["history"][0]
            p1, p2 = (persona, ()) if opened_silently else ((), persona)
            dialogs.append(Dialog(tuple(turns), p1, p2, split))
    if not dialogs:
        raise DataFileError(path, "no dialogs under 'train' or 'valid'", "ParlAI's layout")
    return dialogs


def load_dialogs(split: str = "train", path: Path | str | None = None) -> list[Dialog]:
    """Persona-Chat dialogs of one split.

    Args:
        split: ``"train"`` or ``"test"`` (the ConvAI2 validation dialogs).
        path: ``None`` for the convogym copy, or a user's ``personachat.csv``,
            ``*_both_original*.txt`` or ``personachat_self_original.json``.
    """
    if split not in SPLITS:
        raise InvalidArgumentError(f"split={split!r}; pass one of {SPLITS}.")
    if path is None:
        return list(_convogym_dialogs(split))
    path = Path(path)
    if path.suffix == ".txt":
        return read_convai2_txt(path, split)
    if path.suffix == ".json":
        return [d for d in read_personachat_json(path) if d.split == split]
    if path.suffix == ".csv":
        return [d for d in read_personachat_csv(path) if d.split == split]
    raise DataFileError(
        path,
        "unknown file type",
        "personachat.csv, a ConvAI2 *_both_original*.txt or personachat_self_original.json",
    )


@lru_cache(maxsize=2)
def _convogym_dialogs(split: str) -> tuple[Dialog, ...]:
    return tuple(_all_convogym_dialogs_by_split()[split])


@lru_cache(maxsize=1)
def _all_convogym_dialogs_by_split() -> dict[str, list[Dialog]]:
    """convogym's dialogs by split, parsed once per machine: the parsed tables are
    cached as JSON beside the embedding caches (keyed by the CSV's content), since
    parsing the CSV's list literals takes seconds on every start."""
    import hashlib

    from convenv.cache import cached_build, default_cache_dir

    source = convogym_data_dir() / "personachat.csv"
    if not source.is_file():
        raise DataFileError(source, "file not found", "convogym's personachat.csv")
    digest = hashlib.sha256(f"{PARSED_FORMAT}|{CONVOGYM_TRAIN_DIALOGS}|".encode())
    digest.update(source.read_bytes())
    cache = default_cache_dir() / f"personachat-{digest.hexdigest()[:20]}.json"
    return cached_build(cache, _load_parsed, lambda: _parse_convogym(source), _save_parsed)


# Part of the parsed tables' cache key: a new layout is never read as the old one.
PARSED_FORMAT = "dialogs-1"


def _parse_convogym(source: Path) -> dict[str, list[Dialog]]:
    by_split: dict[str, list[Dialog]] = {s: [] for s in SPLITS}
    for dialog in read_personachat_csv(source):
        by_split[dialog.split].append(dialog)
    by_split["train"] = by_split["train"][:CONVOGYM_TRAIN_DIALOGS]
    return by_split


def _save_parsed(path: Path, by_split: dict[str, list[Dialog]]) -> None:
    from convenv.cache import write_atomically

    table = {
        split: [[list(d.turns), list(d.persona1), list(d.persona2)] for d in dialogs]
        for split, dialogs in by_split.items()
    }
    data = json.dumps(table, ensure_ascii=False).encode("utf-8")
    write_atomically(path, lambda handle: handle.write(data))


def _load_parsed(path: Path) -> dict[str, list[Dialog]] | None:
    """The cached tables if they are sound; None (and a warning) if they must be rebuilt."""
    import warnings

    if not path.exists():
        return None
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
        by_split = {
            split: [
                Dialog(tuple(turns), tuple(p1), tuple(p2), split) for turns, p1, p2 in table[split]
            ]
            for split in SPLITS
        }
        strings = all(
            isinstance(t, str) for dialogs in by_split.values() for d in dialogs for t in d.turns
        )
        if not strings or not all(by_split.values()):
            raise ValueError("the tables hold something other than dialogs")
        return by_split
    except (OSError, ValueError, KeyError, TypeError) as err:
        warnings.warn(f"rebuilding the parsed Persona-Chat cache {path}: {err}", stacklevel=3)
        return None


@lru_cache(maxsize=2)
def load_personas(split: str = "train") -> tuple[Persona, ...]:
    """The convogym persona pool of a split (1,184 train, 118 test personas)."""
    if split not in SPLITS:
        raise InvalidArgumentError(f"split={split!r}; pass one of {SPLITS}.")
    return tuple(read_persona_csv(convogym_data_dir() / f"{split}_personas.csv"))


def fact_pool(personas: Sequence[Persona]) -> tuple[str, ...]:
    """Distinct facts of a persona pool, sorted so the pool is the same every run."""
    return tuple(sorted({fact for persona in personas for fact in persona}))
