"""Label stores fail loudly: corrupt, bad rows, empty, full disk, locked; a crafted
pickle in a weights file is refused. Every failure is one StoreError naming the file,
the cause and the fix, and no acknowledged decision is lost."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import zipfile
from contextlib import closing

import pytest

from convenv.errors import PickledWeightsError, StoreError
from convenv.training.label_db import SQLiteLabelStore
from convenv.training.label_store import LabelledExample, LabelStore


def example(i: int, text: str = "") -> LabelledExample:
    return LabelledExample("ask about pets.", f"question {i}? {text}", f"question {i}?", "accept")


def filled(path, n: int = 300):
    store = LabelStore(path)
    for i in range(n):
        assert store.append(example(i))
    return store


def test_corrupt_mid_file_is_refused_for_writing(tmp_path):
    path = tmp_path / "labels.sqlite"
    filled(path)
    size = path.stat().st_size
    with path.open("r+b") as handle:  # 4 KB of garbage in the middle of the table
        handle.seek(size // 2 // 4096 * 4096)
        handle.write(os.urandom(4096))
    acknowledged = []
    with pytest.raises(StoreError, match=r"labels\.sqlite.*corrupt.*migrate-labels"):
        store = LabelStore(path)
        acknowledged.append(store.append(example(1000)))
    assert acknowledged == []  # nothing written to a corrupt file was acknowledged


def test_the_web_app_on_a_corrupt_store_exits_2_with_one_line(tmp_path):
    pytest.importorskip("fastapi", reason="the [web] extra is not installed")
    path = tmp_path / "labels.sqlite"
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    done = subprocess.run(
        [sys.executable, "-m", "convenv.cli", "serve-labels", "--store", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "labels.sqlite" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_row_is_skipped_with_a_warning_naming_it(tmp_path):
    path = tmp_path / "labels.sqlite"
    filled(path, 3)
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA ignore_check_constraints=ON")
        db.execute(
            "INSERT INTO decisions (example_key, code, proposed, final, verdict, history, "
            "persona, labeller, created) VALUES ('k1', 'c', 'p', 'f', 'maybe', '[]', '[]', "
            "'x', 0)"
        )
        db.execute(
            "INSERT INTO decisions (example_key, code, proposed, final, verdict, history, "
            "persona, labeller, created) VALUES ('k2', 'c', 'p', 'f', 'accept', 'not json', "
            "'[]', 'x', 0)"
        )
        db.commit()
    with pytest.warns(UserWarning, match=r"labels\.sqlite: skipped row id [45]") as caught:
        decisions = LabelStore(path).decisions()
    assert len(caught) == 2
    assert [d.proposed for d in decisions] == [example(i).proposed for i in range(3)]
    assert LabelStore(path).append(example(9))  # the store stays writable


def test_a_zero_byte_file_is_named_as_empty(tmp_path):
    path = tmp_path / "labels.sqlite"
    path.touch()
    with pytest.raises(StoreError, match=r"empty \(0 bytes\).*delete it"):
        LabelStore(path)


def test_a_full_disk_is_named_and_loses_nothing_acknowledged(tmp_path, monkeypatch):
    path = tmp_path / "labels.sqlite"
    store = filled(path, 20)
    connect = SQLiteLabelStore._connect

    def small_disk(self):  # SQLite's own SQLITE_FULL, as on a full disk
        db = connect(self)
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count={pages}")
        return db

    monkeypatch.setattr(SQLiteLabelStore, "_connect", small_disk)
    with pytest.raises(StoreError, match="disk is full") as raised:
        for i in range(20, 2_000):
            store.append(example(i, "x" * 2_000))
    assert "rollback" not in str(raised.value).lower()
    monkeypatch.undo()
    kept = {d.proposed for d in LabelStore(path).decisions()}
    assert {example(i).proposed for i in range(20)} <= kept


def test_a_locked_sqlite_store_fails_after_the_timeout(tmp_path):
    path = tmp_path / "labels.sqlite"
    filled(path, 2)
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        with pytest.raises(StoreError, match=r"another process holds its lock.*--lock-timeout"):
            LabelStore(path, lock_timeout=0.3).append(example(5))
        assert time.monotonic() - started < 10
        other.execute("ROLLBACK")
    assert len(LabelStore(path).decisions()) == 2


def test_a_locked_jsonl_store_fails_after_the_timeout(tmp_path):
    path = tmp_path / "labels.jsonl"
    LabelStore(path).append(example(0))
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from filelock import FileLock; "
         "lock = FileLock(sys.argv[1]); lock.acquire(); print('held', flush=True); "
         "time.sleep(60)", str(path) + ".lock"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match=r"another process holds .*labels\.jsonl\.lock"):
            LabelStore(path, lock_timeout=0.3).append(example(1))
    finally:
        holder.kill()
        holder.wait()
    assert len(LabelStore(path).decisions()) == 1


class Payload:
    """Unpickling this would run a command; weights_only loading must refuse it."""

    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_a_pickled_sb3_policy_is_refused_without_running_it(tmp_path, monkeypatch):
    import pickle

    from gymnasium import spaces

    from convenv.policies.sb3 import load_policy

    monkeypatch.chdir(tmp_path)
    model = tmp_path / "model.zip"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("policy.pth", pickle.dumps({"policy": Payload()}))
        archive.writestr(
            "data",
            '{"policy_kwargs": {}, "n_epochs": 10, '
            '"policy_class": {"__module__": "stable_baselines3.common.policies"}}',
        )
    with pytest.raises(PickledWeightsError, match="pickled data") as raised:
        load_policy(model, spaces.Box(0, 1, (4,)), spaces.Discrete(3), algorithm="ppo")
    assert "weights_only=False" not in str(raised.value)
    assert not (tmp_path / "PWNED").exists()


def test_a_pickled_hugging_face_checkpoint_is_refused_without_running_it(tmp_path, monkeypatch):
    import pickle

    import torch

    from convenv.agents.generation import load_causal_lm
    from convenv.tiny_models import build_tiny_personagpt

    monkeypatch.chdir(tmp_path)
    folder = build_tiny_personagpt(tmp_path / "tiny", vocab_size=300, n_positions=64)
    for weights in folder.glob("*.safetensors"):
        weights.unlink()
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps({"x": Payload()}))
    with pytest.raises(PickledWeightsError, match="pickled data") as raised:
        load_causal_lm(str(folder), torch.device("cpu"), torch.float32)
    assert "weights_only=False" not in str(raised.value)
    assert not (tmp_path / "PWNED").exists()
