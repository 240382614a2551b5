"""LabelStore: nothing a person labelled is ever lost."""

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import warnings

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
    with pytest.warns(UserWarning, match=r"labels\.jsonl:3: skipped an unreadable line"):
        assert [e.final for e in store.load()][-1] == example(3).final


def test_a_torn_line_from_an_earlier_crash_never_hides_later_records(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text(
        '{"bad\n' + json.dumps({"code": "x.", "final": "q?", "verdict": "accept"}) + "\n"
    )
    with pytest.warns(UserWarning, match=":1: skipped an unreadable line"):
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
        "    store.append(LabelledExample('ask about pets.', 'p', f'café ☕ question {i}?', "
        "'correct'))\n"
        "    i += 1\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], env={**os.environ})
    deadline = time.time() + 60
    while time.time() < deadline and (not path.exists() or path.read_text().count("\n") < 50):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    complete = path.read_bytes().count(b"\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the kill may have torn the last line
        store = LabelStore(path)
        loaded = store.load()
        assert len(loaded) >= 50
        assert len(loaded) == complete  # every finished line is there, in order
        assert [e.final for e in loaded] == [f"café ☕ question {i}?" for i in range(len(loaded))]
        store.append(LabelledExample("ask about pets.", "p", "après?", "correct"))
        assert store.load()[-1].final == "après?"


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


def test_torn_tail_inside_a_multibyte_character_costs_one_line(tmp_path):
    store = LabelStore(tmp_path / "labels.jsonl")
    store.append(LabelledExample("ask about food.", "p", "do you like café au lait?", "correct"))
    line = json.dumps({"code": "ask about food.", "final": "crème brûlée?"}, ensure_ascii=False)
    torn = line.encode("utf-8")
    cut = torn.index("è".encode()) + 1  # stop inside the two bytes of "è"
    with store.path.open("ab") as handle:
        handle.write(torn[:cut])
    store.append(LabelledExample("ask about food.", "p", "and pâté?", "correct"))
    with pytest.warns(UserWarning, match=":2: skipped an unreadable line"):
        finals = [e.final for e in store.load()]
    assert finals == ["do you like café au lait?", "and pâté?"]


def test_malformed_records_are_skipped_with_file_and_line(tmp_path):
    good = {"code": "ask about pets.", "final": "any pets?", "verdict": "accept"}
    bad = [
        {}, [], None, 3, {**good, "verdict": "maybe"}, {**good, "code": 7},
        {**good, "created": "yesterday"}, {**good, "history": "hello"},
        {**good, "persona": [1, 2]},
    ]  # fmt: skip
    path = tmp_path / "labels.jsonl"
    lines = [json.dumps(row).encode() for row in bad]
    lines.insert(3, b'{"code": "ask about pets.", "final": "\xff\xfe?", "verdict": "accept"}')
    lines.append(json.dumps({**good, "final": "still here?"}).encode())
    path.write_bytes(
        b"\xef\xbb\xbf" + json.dumps(good).encode() + b"\n" + b"\n".join(lines) + b"\n"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        finals = [e.final for e in LabelStore(path).load()]
    assert finals == ["any pets?", "still here?"]  # the BOM did not cost the first line
    messages = [str(w.message) for w in caught]
    assert len(messages) == len(bad) + 1
    assert all(str(path) in m for m in messages)
    assert any(":6: skipped" in m for m in messages)  # the line of bad UTF-8
    assert any("history='hello'" in m for m in messages)
