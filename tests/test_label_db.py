"""The SQLite label store: same API as JSON Lines, durable, concurrent, migratable."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from convenv.errors import StoreError
from convenv.training.label_db import SQLiteLabelStore, migrate_labels
from convenv.training.label_store import JsonlLabelStore, LabelledExample, LabelStore


def decision(i: int, labeller: str = "ann", verdict: str = "correct") -> LabelledExample:
    final = "" if verdict == "reject" else f"what pets do you have, number {i}?"
    return LabelledExample(
        "ask about pets.", f"proposal {i}", final, verdict, ("hi",), ("i have a dog.",), labeller
    )


def test_the_suffix_picks_the_backend(tmp_path):
    assert isinstance(LabelStore(tmp_path / "a.sqlite"), SQLiteLabelStore)
    assert isinstance(LabelStore(tmp_path / "a.db"), SQLiteLabelStore)
    assert isinstance(LabelStore(tmp_path / "a.jsonl"), JsonlLabelStore)


def test_same_behaviour_as_json_lines(tmp_path):
    stores = [LabelStore(tmp_path / "a.sqlite"), LabelStore(tmp_path / "a.jsonl")]
    examples = [decision(i % 5, verdict=("accept", "correct", "reject")[i % 3]) for i in range(12)]
    examples.append(decision(1, labeller="bob", verdict="correct"))  # a second person
    for store in stores:
        store.extend(examples)
        store.append(examples[0])  # the same person again: stored once
    sqlite, jsonl = stores
    assert [e.key() for e in sqlite.load()] == [e.key() for e in jsonl.load()]
    assert sqlite.decided() == jsonl.decided()
    assert len(sqlite.training_examples()) == len(jsonl.training_examples())
    assert len(sqlite.decisions()) == len(jsonl.decisions()) == len(sqlite.load()) + 1
    exported = [json.loads(line) for line in sqlite.export(tmp_path / "x.jsonl").open()]
    assert [r["final"] for r in exported] == [e.final for e in jsonl.load()]


def _writer(path: str, who: str, n: int) -> None:
    store = LabelStore(path)
    for i in range(n):
        store.append(decision(i, labeller=who))


def test_eight_concurrent_writers_lose_and_duplicate_nothing(tmp_path):
    path = str(tmp_path / "team.sqlite")
    LabelStore(path)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, f"p{k}", 200)) for k in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    store = LabelStore(path)
    rows = store.decisions()
    assert store.count() == len(rows) == 1600
    assert len({(e.key(), e.labeller) for e in rows}) == 1600


def test_every_returned_append_survives_sigkill(tmp_path):
    path = tmp_path / "crash.sqlite"
    script = textwrap.dedent(
        f"""
        import sys
        from tests.test_label_db import decision
        from convenv.training.label_store import LabelStore
        store = LabelStore({str(path)!r})
        for i in range(100000):
            store.append(decision(i))
            print(i, flush=True)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    confirmed = []
    for line in child.stdout:
        confirmed.append(int(line))
        if len(confirmed) == 150:
            os.kill(child.pid, signal.SIGKILL)
            break
    child.wait()
    stored = {e.proposed for e in LabelStore(path).decisions()}
    assert {f"proposal {i}" for i in confirmed} <= stored


def test_migration_both_ways_loses_nothing_and_is_idempotent(tmp_path):
    jsonl = LabelStore(tmp_path / "old.jsonl")
    jsonl.extend(decision(i, labeller=who) for i in range(30) for who in ("ann", "bob"))
    assert migrate_labels(tmp_path / "old.jsonl", tmp_path / "new.sqlite") == (60, 60)
    assert migrate_labels(tmp_path / "old.jsonl", tmp_path / "new.sqlite") == (60, 0)
    assert migrate_labels(tmp_path / "new.sqlite", tmp_path / "back.jsonl") == (60, 60)
    back = LabelStore(tmp_path / "back.jsonl")
    assert [(e.key(), e.labeller) for e in back.decisions()] == [
        (e.key(), e.labeller) for e in jsonl.decisions()
    ]


def test_migrate_command_and_bad_files(tmp_path, capsys):
    from convenv.cli import main

    LabelStore(tmp_path / "a.jsonl").append(decision(0))
    args = ["migrate-labels", str(tmp_path / "a.jsonl"), str(tmp_path / "b.sqlite")]
    assert main([*args, "--dry-run"]) == 0
    assert "1 would be new" in capsys.readouterr().out and not (tmp_path / "b.sqlite").exists()
    assert main(args) == 0
    assert "1 new" in capsys.readouterr().out
    assert main(["migrate-labels", str(tmp_path / "none.jsonl"), str(tmp_path / "c.db")]) == 2
    (tmp_path / "junk.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"junk\.sqlite: is not an SQLite database.*--store"):
        LabelStore(tmp_path / "junk.sqlite")
