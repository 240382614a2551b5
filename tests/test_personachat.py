import json

import pytest

from convenv.errors import DataFileError, InvalidArgumentError
from convenv.personachat import (
    as_persona,
    fact_pool,
    load_dialogs,
    load_personas,
    read_persona_csv,
    read_personachat_csv,
)


def test_convogym_copy_loads_with_documented_sizes():
    train, test = load_dialogs("train"), load_dialogs("test")
    assert len(train) == 8939
    assert len(test) == 999
    dialog = train[0]
    assert dialog.turns[0].startswith("hi, how are you doing?")
    assert "<|endoftext|>" not in " ".join(dialog.turns)
    assert dialog.persona1[0] == "i like canning and whittling."
    assert dialog.utterances_of(2) == dialog.turns[1::2]
    assert len(load_personas("train")) == 1184
    assert len(load_personas("test")) == 118
    # no test persona is ever a train persona
    assert not set(load_personas("test")) & set(load_personas("train"))
    pool = fact_pool(load_personas("test"))
    assert len(pool) == len(set(pool)) and list(pool) == sorted(pool)


def test_convai2_txt_file(tmp_path):
    path = tmp_path / "valid_both_original.txt"
    path.write_text(
        "1 partner's persona: i have a cat.\n"
        "2 partner's persona: i am a nurse.\n"
        "3 your persona: i love jazz.\n"
        "4 hi there!\thello, do you like music?\t\tcand a|cand b\n"
        "5 i have a cat.\ti love jazz.\t\tx|y\n"
        "1 your persona: i run.\n"
        "2 yo\they\t\tx\n"
    )
    dialogs = load_dialogs("test", path)
    assert len(dialogs) == 2
    first = dialogs[0]
    assert first.persona1 == ("i have a cat.", "i am a nurse.")
    assert first.persona2 == ("i love jazz.",)
    assert first.turns == (
        "hi there!",
        "hello, do you like music?",
        "i have a cat.",
        "i love jazz.",
    )
    assert all(d.split == "test" for d in dialogs)


def test_personachat_self_original_json(tmp_path):
    path = tmp_path / "personachat_self_original.json"
    data = {
        "train": [],
        "valid": [
            {
                "personality": ["i like dogs."],
                "utterances": [
                    {"history": ["__ SILENCE __"], "candidates": ["x", "hi, i like dogs."]},
                    {
                        "history": ["__ SILENCE __", "hi, i like dogs.", "cool. me too"],
                        "candidates": ["y", "what breed?"],
                    },
                ],
            }
        ],
    }
    path.write_text(json.dumps(data))
    (dialog,) = load_dialogs("test", path)
    assert dialog.turns == ("hi, i like dogs.", "cool. me too", "what breed?")
    assert dialog.persona1 == ("i like dogs.",)  # opened in silence: the persona owner spoke first


def test_malformed_files_raise_clear_errors(tmp_path):
    bad_header = tmp_path / "a.csv"
    bad_header.write_text("x,y\n1,2\n")
    with pytest.raises(DataFileError, match="columns hx, p1, p2, split"):
        read_personachat_csv(bad_header)
    bad_cell = tmp_path / "b.csv"
    bad_cell.write_text("hx,p1,p2,split\n\"['hi', oops\",[],[],train\n")
    with pytest.raises(DataFileError, match="row 2 column 'hx'"):
        read_personachat_csv(bad_cell)
    bad_txt = tmp_path / "c_both_original.txt"
    bad_txt.write_text("hello there\n")
    with pytest.raises(DataFileError, match="turn number"):
        load_dialogs("train", bad_txt)
    with pytest.raises(DataFileError, match="file not found"):
        read_persona_csv(tmp_path / "missing.csv")
    with pytest.raises(DataFileError, match="unknown file type"):
        load_dialogs("train", tmp_path / "x.parquet")
    with pytest.raises(DataFileError, match="not valid JSON"):
        (tmp_path / "d.json").write_text("{")
        load_dialogs("train", tmp_path / "d.json")


def test_persona_validation():
    assert as_persona([" i have a dog. "]) == ("i have a dog.",)
    with pytest.raises(InvalidArgumentError, match="at least one non-empty fact"):
        as_persona([])
    with pytest.raises(InvalidArgumentError, match="at least one non-empty fact"):
        as_persona(["i run.", "  "])
    with pytest.raises(InvalidArgumentError, match="one string"):
        as_persona("i have a dog.")
    with pytest.raises(InvalidArgumentError, match="split="):
        load_dialogs("valid")
