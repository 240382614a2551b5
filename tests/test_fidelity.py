"""The fidelity harness: the partner replayed in people's place, every column measured."""

from __future__ import annotations

import json

import pytest

from convenv.fidelity import FIGURES, TURN_FIGURES, measure, replay, turn_reveals
from convenv.identifier import PersonaIdentifier
from convenv.personachat import load_dialogs
from convenv.testing import EchoPartner, HashingEncoder


def test_replay_answers_in_each_speakers_place_turn_by_turn():
    dialogs = load_dialogs("test")[:3]
    seen = []

    class Recorder(EchoPartner):
        def respond(self, contexts):
            seen.extend(contexts)
            return super().respond(contexts)

    cases = replay(Recorder(), dialogs, max_answers=4, progress=False)
    assert len(cases) == 6
    first = cases[0]  # speaker 1 of dialog 0: its opener answers nothing
    assert first.human == list(dialogs[0].turns[2:10:2])
    assert first.questions == list(dialogs[0].turns[1:9:2])
    assert all(answer in first.persona for answer in first.partner)  # the echo states facts
    assert seen[0].history == dialogs[0].turns[:2] and seen[0].persona == dialogs[0].persona1
    # Its own earlier turns are its own answers; the other speaker's are the real ones.
    later = next(c for c in seen if c.persona == first.persona and len(c.history) == 4)
    assert later.history == (*dialogs[0].turns[:2], first.partner[0], dialogs[0].turns[3])
    seen.clear()
    replay(Recorder(), dialogs, max_answers=4, progress=False, teacher_forced=True)
    later = next(c for c in seen if c.persona == first.persona and len(c.history) == 4)
    assert later.history == dialogs[0].turns[:4]


def test_an_echoing_partner_reveals_more_than_people():
    cases = replay(EchoPartner(), load_dialogs("test")[:20], progress=False)
    results = measure(cases, PersonaIdentifier(HashingEncoder()), resamples=200)
    expected = {f"{m} after {n}" for m in FIGURES for n in (2, 4, 8)}
    others = {"reveal rate", "wrong-candidate rate", "relevance", *TURN_FIGURES}
    assert expected | others == set(results)
    for by_who in results.values():
        for low_mean_high in by_who.values():
            mean, low, high = low_mean_high
            assert low <= mean <= high
    # It states its own facts word for word: it reveals far more than people do.
    assert results["reveal rate"]["partner"][0] > results["reveal rate"]["human"][0] + 0.2


class WordEncoder:
    """Unit bag-of-words vectors: texts sharing words are near, others orthogonal."""

    vocabulary = ("dog", "pets", "nurse", "work", "pizza", "food", "rain")
    dim = len(vocabulary)

    def encode(self, texts):
        import numpy as np

        rows = np.array(
            [[float(w in t.replace("?", " ").split()) for w in self.vocabulary] for t in texts]
        )
        rows[rows.sum(axis=1) == 0, -1] = 1.0  # nothing known: "rain", near nothing
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_turn_reveals_tells_answered_from_volunteered():
    persona = ("i have a dog pets", "i am a nurse work", "i love pizza food")
    questions = ["do you have pets dog ?", "what is your work nurse ?", "hello", "pets dog ?"]
    answers = ["yes a dog pets .", "i love pizza food .", "i am a nurse work .", "rain ."]
    questions.append("and food ?")
    answers.append("pizza food , i said .")
    about, answered, another, restated = turn_reveals(WordEncoder(), persona, questions, answers)
    assert about.tolist() == [True, True, False, True, True]
    assert answered.tolist() == [True, False, False, False, True]  # turn 3 asked nothing
    assert another.tolist() == [False, True, True, False, False]
    assert restated.tolist() == [False, False, False, False, True]  # pizza, said on turn 2
    assert [a.size for a in turn_reveals(WordEncoder(), persona, [], [])] == [0, 0, 0, 0]


@pytest.mark.slow
def test_fidelity_command_on_a_20_dialog_slice(tmp_path, default_components, capsys):
    from convenv import fidelity_cli

    assert fidelity_cli.main(["--limit", "20", "--out", str(tmp_path), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "| reveal rate |" in text and "| recall@5 after 8 |" in text
    assert "| asked-about fact stated |" in text and "| only restated facts |" in text
    results = json.loads((tmp_path / "fidelity.json").read_text())
    assert results["precision@1 after 8"]["human"][0] > 0.8
    assert (tmp_path / "fidelity.png").read_bytes().startswith(b"\x89PNG")
    # The answers themselves, people beside the partner, one line per speaker.
    lines = [json.loads(line) for line in (tmp_path / "replay.jsonl").read_text().splitlines()]
    assert 30 <= len(lines) <= 40 and {r["dialog"] for r in lines} == set(range(20))
    for record in lines:
        assert len(record["people"]) == len(record["partner"]) == len(record["questions"]) >= 1
        assert record["persona"] and all(isinstance(a, str) and a for a in record["partner"])
