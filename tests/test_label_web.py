"""The labelling web app, in process (HTTP semantics, safety, progress, export)."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("fastapi", reason="the [web] extra is not installed")
from fastapi.testclient import TestClient

from convenv.training.label_store import LabelStore
from tests.web_stubs import decide, log_in, stub_app


def logged_in(app, name="ann") -> tuple[TestClient, str]:
    client = TestClient(app)
    return client, log_in(client, name)


@pytest.fixture
def store_path(tmp_path):
    return str(tmp_path / "labels.sqlite")


def test_a_dialog_turn_is_stored_with_its_annotator_and_answered(store_path):
    app = stub_app(store_path)
    client, token = logged_in(app)
    page = client.get("/dialog").text
    assert "i have a black lab" in page or "i play the guitar" in page
    client.post("/dialog/propose", data={"code_id": "1", "csrf": token})
    page = client.get("/dialog").text
    assert "ask about pets." in page and "question" in page
    client.post("/dialog/decide", data={"verdict": "accept", "csrf": token})
    (stored,) = LabelStore(store_path).decisions()
    assert stored.labeller == "ann" and stored.verdict == "accept" and stored.persona
    page = client.get("/dialog").text
    assert page.count('class="turn') == 2  # the question and the partner's answer
    # A correction enters the interviewer's bank at once.
    client.post("/dialog/propose", data={"new_code": "ask about hobbies", "csrf": token})
    client.post(
        "/dialog/decide",
        data={"verdict": "correct", "correction": "what do you do for fun?", "csrf": token},
    )
    assert ("ask about hobbies.", "what do you do for fun?") in (
        app.state.labels.components.interviewer.bank
    )


def test_bad_input_gets_a_message_and_stores_nothing(store_path):
    client, token = logged_in(stub_app(store_path))
    page = client.post("/dialog/propose", data={"code_id": "42", "csrf": token}).text
    assert "Unknown code" in page  # shown on the page the browser is sent back to
    client.post("/dialog/propose", data={"code_id": "0", "csrf": token})
    for correction, message in (("  ", "correction is empty"), ("x" * 5000, "longer than")):
        response = client.post(
            "/dialog/decide",
            data={"verdict": "correct", "correction": correction, "csrf": token},
            headers={"accept": "application/json"},
        )
        assert response.status_code == 400 and message in response.json()["error"]
    # Without the CSRF token nothing changes.
    response = client.post("/dialog/decide", data={"verdict": "accept"})
    assert "expired" in response.text
    assert LabelStore(store_path).decisions() == []


def test_typed_text_is_shown_escaped(store_path):
    client, token = logged_in(stub_app(store_path))
    client.post("/dialog/propose", data={"code_id": "0", "csrf": token})
    evil = "<script>alert('x')</script> what is your job?"
    client.post("/dialog/decide", data={"verdict": "correct", "correction": evil, "csrf": token})
    page = client.get("/dialog").text
    assert "&lt;script&gt;alert(" in page and "<script>alert(" not in page
    client.post("/dialog/propose", data={"new_code": "<b>ask</b> about <i>x</i>", "csrf": token})
    progress = client.get("/progress").text
    assert "<b>ask" not in progress and "<b>ask" not in client.get("/dialog").text


def test_review_orders_by_doubt_and_auto_accepts(store_path):
    app = stub_app(store_path, auto_accept=0.5, size=30)
    client, token = logged_in(app)
    items = client.get("/api/review", headers={"accept": "application/json"}).json()["items"]
    confidences = [item["confidence"] for item in items]
    assert confidences == sorted(confidences) and all(c < 0.5 for c in confidences)
    auto = [d for d in LabelStore(store_path).decisions() if d.labeller == "auto"]
    assert len(auto) + len(items) == 30
    assert decide(client, token, items[0], "reject").status_code == 200
    # Decided already: refused, nothing stored twice.
    assert decide(client, token, items[0], "accept").status_code == 400
    assert len(LabelStore(store_path).decisions()) == len(auto) + 1


def test_progress_counts_and_agreement_and_export(store_path, tmp_path):
    app = stub_app(store_path, size=5)
    clients = [logged_in(app, name) for name in ("ann", "bob")]
    items = clients[0][0].get("/api/review", headers={"accept": "application/json"}).json()
    shared = items["items"][0]
    for (client, token), verdict in zip(clients, ("accept", "reject"), strict=True):
        client.get("/review")
        labels = app.state.labels
        state = labels.sessions[client.cookies.get("convenv_session")]
        if not any(p.question == shared["question"] for p in state.queue):
            state.queue.append(type(state.queue[0])(**shared))  # both review the same item
        client.post(
            "/review/decide",
            data={
                "code": shared["code"],
                "question": shared["question"],
                "verdict": verdict,
                "csrf": token,
            },
        )
    page = clients[0][0].get("/progress").text
    assert "2 decisions stored" in re.sub(r"<[^>]+>", "", page)
    assert "agree on 0% of pairs" in page and "ann" in page and "bob" in page
    export = clients[0][0].get("/export")
    assert export.status_code == 200
    path = tmp_path / "export.jsonl"
    path.write_bytes(export.content)
    from datasets import load_dataset

    rows = load_dataset("json", data_files=str(path), split="train")
    assert len(rows) == 2 and set(rows["labeller"]) == {"ann", "bob"}


def test_a_token_keeps_strangers_out(store_path):
    client = TestClient(stub_app(store_path, token="s3cret"))
    assert client.get("/login").status_code == 403
    assert client.get("/login?token=wrong").status_code == 403
    assert client.get("/login?token=s3cret").status_code == 200
    assert client.get("/login").status_code == 200  # the cookie carries it from now on
