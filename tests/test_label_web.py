"""The labelling web app, in process (HTTP semantics, safety, progress, export)."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("fastapi", reason="the [web] extra is not installed")
from convenv.training.label_store import LabelStore
from tests.web_stubs import JSON, decide, local_client, log_in, stub_app


def logged_in(app, name="ann"):
    client = local_client(app)
    return client, log_in(client, name)


@pytest.fixture
def store_path(tmp_path):
    return str(tmp_path / "labels.sqlite")


def test_a_dialog_turn_is_stored_with_its_annotator_and_answered(store_path):
    app = stub_app(store_path)
    client, token = logged_in(app, "admin")  # an admin may add a code (below)
    page = client.get("/dialog").text
    assert "i have a black lab" in page or "i play the guitar" in page
    client.post("/dialog/propose", data={"code_id": "1", "csrf": token})
    page = client.get("/dialog").text
    assert "ask about pets." in page and "question" in page
    client.post("/dialog/decide", data={"verdict": "accept", "csrf": token})
    (stored,) = LabelStore(store_path).decisions()
    assert stored.labeller == "admin" and stored.verdict == "accept" and stored.persona
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
    client, token = logged_in(stub_app(store_path), "admin")
    client.post("/dialog/propose", data={"code_id": "0", "csrf": token})
    evil = "<script>alert('x')</script> what is your job?"
    client.post("/dialog/decide", data={"verdict": "correct", "correction": evil, "csrf": token})
    page = client.get("/dialog").text
    assert "&lt;script&gt;alert(" in page and "<script>alert(" not in page
    client.post("/dialog/propose", data={"new_code": "<b>ask</b> about <i>x</i>", "csrf": token})
    progress = client.get("/progress").text
    assert "<b>ask" not in progress and "<b>ask" not in client.get("/dialog").text


def test_review_orders_by_doubt_and_auto_accepts_on_a_post(store_path):
    app = stub_app(store_path, auto_accept=0.3, size=30)
    client, token = logged_in(app)
    queue = client.get("/api/review", headers=JSON).json()
    items, sure = queue["items"], queue["sure"]
    confidences = [item["confidence"] for item in items]
    assert confidences == sorted(confidences)
    assert sure and all(item["confidence"] >= 0.3 for item in sure)
    assert len(sure) + len(items) == 30
    client.get("/review")
    assert LabelStore(store_path).decisions() == []  # a GET never writes
    accepted = client.post("/review/auto-accept", data={"csrf": token}, headers=JSON).json()
    auto = [d for d in LabelStore(store_path).decisions() if d.labeller == "auto"]
    assert accepted["accepted"] == len(auto) == len(sure)
    assert decide(client, token, items[0], "reject").status_code == 200
    # Decided already: refused, nothing stored twice.
    assert decide(client, token, items[0], "accept").status_code == 400
    assert len(LabelStore(store_path).decisions()) == len(auto) + 1


def test_progress_counts_and_agreement_and_export(store_path, tmp_path):
    app = stub_app(store_path, size=5)
    clients = [logged_in(app, name) for name in ("ann", "bob")]
    admin, _ = logged_in(app, "admin")
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
    page = admin.get("/progress").text
    assert "2 decisions stored" in re.sub(r"<[^>]+>", "", page)
    assert "agree on 0% of pairs" in page and "ann" in page and "bob" in page
    own = clients[0][0].get("/progress").text  # a labeller sees only their own work
    assert "1 decisions stored by you" in re.sub(r"<[^>]+>", "", own) and "bob" not in own
    export = admin.get("/export")
    assert export.status_code == 200
    path = tmp_path / "export.jsonl"
    path.write_bytes(export.content)
    from datasets import load_dataset

    rows = load_dataset("json", data_files=str(path), split="train")
    assert len(rows) == 2 and set(rows["labeller"]) == {"ann", "bob"}
