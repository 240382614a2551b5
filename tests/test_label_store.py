"""LabelStore: nothing a person labelled is ever lost."""

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest

from convenv.training.label_store import LabelledExample, LabelStore


def example(i: int, verdict: str = "correct") -> LabelledExample:
    final = "" if verdict == "reject" else f"do you have a pet number {i}?"
    return LabelledExample("ask about pets.", f"proposal {i}", final, verdict, ("hi",), ("i run.",))


def test_round_trip_dedup_and_export(tmp_path):
    store = LabelStore(tmp_path / "labels.jsonl")
    store.extend([example(1), example(2), example(1), example(3, "reject")])
    loaded = store.load()
    assert [e.final for e in loaded] == [example(1).final, example(2).final, ""]
    assert len(store.training_examples()) == 2
    assert loaded[0].history == ("hi",) and loaded[0].persona == ("i run.",)
    exported = store.export(tmp_path / "export.jsonl")
    rows = [json.loads(line) for line in exported.read_text().splitlines()]
    assert len(rows) == 3 and rows[0]["history"] == ["hi"]
    datasets = pytest.importorskip("datasets")
    assert datasets.load_dataset("json", data_files=str(exported), split="train").num_rows == 3


def test_torn_last_line_is_skipped_with_a_warning(tmp_path):
    store = LabelStore(tmp_path / "labels.jsonl")
    store.extend([example(1), example(2)])
    with store.path.open("a") as handle:
        handle.write('{"code": "ask about pets.", "final": "half a rec')
    with pytest.warns(UserWarning, match="torn last line"):
        loaded = store.load()
    assert len(loaded) == 2
    store.append(example(3))  # the torn tail is ended; the new record gets its own line
    lines = store.path.read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[-1])["final"] == example(3).final
    with pytest.warns(UserWarning, match="torn line 3"):
        assert [e.final for e in store.load()][-1] == example(3).final


def test_a_torn_line_from_an_earlier_crash_never_hides_later_records(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text(
        '{"bad\n' + json.dumps({"code": "x.", "final": "q?", "verdict": "accept"}) + "\n"
    )
    with pytest.warns(UserWarning, match="torn line 1"):
        assert [e.final for e in LabelStore(path).load()] == ["q?"]


def test_bad_records_are_refused():
    with pytest.raises(ValueError, match="verdict="):
        LabelledExample("ask about pets.", "q?", "q?", "maybe")
    with pytest.raises(ValueError, match="needs the final question"):
        LabelledExample("ask about pets.", "q?", "", "correct")


def test_killed_writer_keeps_every_finished_record(tmp_path):
    path = tmp_path / "labels.jsonl"
    code = (
        "from convenv.training.label_store import LabelStore, LabelledExample\n"
        f"store = LabelStore({str(path)!r})\n"
        "i = 0\n"
        "while True:\n"
        "    store.append(LabelledExample('ask about pets.', 'p', f'question {i}?', 'correct'))\n"
        "    i += 1\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], env={**os.environ})
    deadline = time.time() + 60
    while time.time() < deadline and (not path.exists() or path.read_text().count("\n") < 50):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    complete = path.read_text().count("\n")
    loaded = LabelStore(path).load()
    assert len(loaded) >= 50
    assert len(loaded) == complete  # every finished line is there, in order
    assert [e.final for e in loaded] == [f"question {i}?" for i in range(len(loaded))]


def _write_many(path: str, writer: int, n: int) -> None:
    store = LabelStore(path)
    for i in range(n):
        store.append(
            LabelledExample("talk about work.", "p", f"w{writer} q{i} " + "x" * 300, "correct")
        )


def test_two_concurrent_writers_never_interleave(tmp_path):
    path = str(tmp_path / "labels.jsonl")
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_many, args=(path, w, 150)) for w in range(2)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(60)
        assert process.exitcode == 0
    loaded = LabelStore(path).load()
    assert len(loaded) == 300
    for w in range(2):
        mine = [e.final.split()[1] for e in loaded if e.final.startswith(f"w{w} ")]
        assert mine == [f"q{i}" for i in range(150)]  # each writer's order kept
