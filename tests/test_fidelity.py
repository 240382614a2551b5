"""The fidelity harness: the partner replayed in people's place, every column measured."""

from __future__ import annotations

import json

import pytest

from convenv.fidelity import FIGURES, measure, replay
from convenv.identifier import PersonaIdentifier
from convenv.personachat import load_dialogs
from convenv.testing import EchoPartner, HashingEncoder


def test_replay_answers_in_each_speakers_place_on_the_real_history():
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


def test_an_echoing_partner_reveals_more_than_people():
    cases = replay(EchoPartner(), load_dialogs("test")[:20], progress=False)
    results = measure(cases, PersonaIdentifier(HashingEncoder()), resamples=200)
    expected = {f"{m} after {n}" for m in FIGURES for n in (2, 4, 8)}
    assert expected | {"reveal rate", "wrong-candidate rate", "relevance"} == set(results)
    for by_who in results.values():
        for low_mean_high in by_who.values():
            mean, low, high = low_mean_high
            assert low <= mean <= high
    # It states its own facts word for word: it reveals far more than people do.
    assert results["reveal rate"]["partner"][0] > results["reveal rate"]["human"][0] + 0.2


@pytest.mark.slow
def test_fidelity_command_on_a_20_dialog_slice(tmp_path, default_components, capsys):
    from convenv import fidelity_cli

    assert fidelity_cli.main(["--limit", "20", "--out", str(tmp_path), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "| reveal rate |" in text and "| recall@5 after 8 |" in text
    results = json.loads((tmp_path / "fidelity.json").read_text())
    assert results["precision@1 after 8"]["human"][0] > 0.8
    assert (tmp_path / "fidelity.png").read_bytes().startswith(b"\x89PNG")
    # The answers themselves, people beside the partner, one line per speaker.
    lines = [json.loads(line) for line in (tmp_path / "replay.jsonl").read_text().splitlines()]
    assert 30 <= len(lines) <= 40 and {r["dialog"] for r in lines} == set(range(20))
    for record in lines:
        assert len(record["people"]) == len(record["partner"]) == len(record["questions"]) >= 1
        assert record["persona"] and all(isinstance(a, str) and a for a in record["partner"])
