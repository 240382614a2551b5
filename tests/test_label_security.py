"""Who gets into the labelling app: accounts, roles, Host and Origin checks, sessions,
security headers, and an export that leaves nothing behind."""

from __future__ import annotations

import tempfile
import time

import pytest

pytest.importorskip("fastapi", reason="the [web] extra is not installed")
pytest.importorskip("argon2", reason="the [web] extra is not installed")

from convenv.errors import InvalidArgumentError
from convenv.training.label_accounts import Accounts, name_key
from convenv.training.label_store import LabelStore
from tests.web_stubs import JSON, csrf_of, local_client, log_in, stub_app


@pytest.fixture
def store_path(tmp_path):
    return str(tmp_path / "labels.sqlite")


@pytest.fixture
def app(store_path):
    return stub_app(store_path, size=5)


def test_export_needs_an_admin(app):
    anonymous = local_client(app)
    assert anonymous.get("/export", follow_redirects=False).status_code == 303  # to /login
    assert anonymous.get("/export", headers=JSON).status_code == 401
    labeller = local_client(app)
    log_in(labeller, "ann")
    assert labeller.get("/export").status_code == 403
    assert labeller.get("/admin").status_code == 403
    admin = local_client(app)
    log_in(admin, "admin")
    assert admin.get("/export").status_code == 200


def test_a_foreign_host_gets_400(app):
    client = local_client(app)
    token = log_in(client, "admin")
    evil = {"host": "attacker.example"}
    assert client.get("/login", headers=evil).status_code == 400
    assert client.get("/export", headers=evil).status_code == 400
    decided = client.post("/dialog/decide", data={"verdict": "accept", "csrf": token}, headers=evil)
    assert decided.status_code == 400 and "--allowed-host" in decided.text
    assert client.get("/login", headers={"host": "127.0.0.1:8765"}).status_code == 200


def test_an_allowed_host_gets_in(store_path):
    app = stub_app(store_path, allowed_hosts=("labels.example.org",))
    client = local_client(app)
    assert client.get("/login", headers={"host": "labels.example.org"}).status_code == 200


def test_a_post_from_another_origin_is_refused(app):
    client = local_client(app)
    token = log_in(client, "ann")
    data = {"mode": "sample", "csrf": token}
    for headers in ({"origin": "http://evil.example"}, {"origin": "null"},
                    {"sec-fetch-site": "cross-site"}, {"sec-fetch-site": "same-site"}):  # fmt: skip
        assert client.post("/dialog/persona", data=data, headers=headers).status_code == 403
    # What Chromium sends for the app's own form under Referrer-Policy no-referrer.
    own = {"origin": "null", "sec-fetch-site": "same-origin", **JSON}
    assert client.post("/dialog/persona", data=data, headers=own).status_code == 200
    same = client.post("/dialog/persona", data=data, headers={"origin": "http://localhost", **JSON})
    assert same.status_code == 200


def test_no_log_in_without_the_secret_and_no_deciding_as_another(app, store_path):
    client = local_client(app)
    token = csrf_of(client.get("/login").text)
    for name, secret in (("ann", "wrong-secret"), ("ann", ""), ("nobody", "ann-secret-1"),
                         ("bob", "ann-secret-1")):  # fmt: skip
        answer = client.post(
            "/login", data={"name": name, "secret": secret, "csrf": token}, headers=JSON
        )
        assert answer.status_code == 401
    token = log_in(client, "ann")
    # The app takes the labeller from the session; a form field cannot change it.
    client.post("/dialog/propose", data={"code_id": "1", "csrf": token})
    client.post("/dialog/decide", data={"verdict": "accept", "labeller": "bob", "csrf": token})
    # Nor can the session rename itself: logging in again needs bob's secret.
    again = client.post(
        "/login", data={"name": "bob", "secret": "x" * 12, "csrf": token}, headers=JSON
    )
    assert again.status_code == 401
    assert client.get("/dialog").text.count('id="who">ann<') == 1
    assert [d.labeller for d in LabelStore(store_path).decisions()] == ["ann"]


def test_log_in_rotates_the_session_and_sessions_expire(store_path):
    app = stub_app(store_path, session_hours=0.5 / 3600)  # half a second
    client = local_client(app)
    client.get("/login")
    before = client.cookies.get("convenv_session")
    log_in(client, "ann")
    after = client.cookies.get("convenv_session")
    assert before and after and before != after
    assert before not in app.state.labels.sessions  # the old id is dead
    assert client.get("/dialog", follow_redirects=False).status_code == 200
    time.sleep(0.7)
    assert client.get("/dialog", follow_redirects=False).headers["location"] == "/login"


@pytest.mark.parametrize(
    "name",
    [
        "auto",
        "AUTO",
        "Auto",
        "auto\u200b",
        "\u0430uto",
        "ａｕｔｏ",
        "ann\x00",
        "a\tb",
        "x" * 65,
        " ",
    ],
)
def test_reserved_confusable_and_control_names_are_refused(tmp_path, name):
    accounts = Accounts(tmp_path / "accounts.sqlite")
    with pytest.raises(InvalidArgumentError, match="name="):
        accounts.add(name, "long-enough-secret")


def test_a_name_that_reads_like_a_taken_one_is_refused(tmp_path):
    accounts = Accounts(tmp_path / "accounts.sqlite")
    accounts.add("ann", "long-enough-secret")
    for twin in ("ANN", "\u0430nn", "Ａnn"):
        assert name_key(twin) == name_key("ann")
        with pytest.raises(InvalidArgumentError, match="taken"):
            accounts.add(twin, "long-enough-secret")
    assert accounts.verify("ANN", "long-enough-secret").name == "ann"
    assert b"long-enough-secret" not in (tmp_path / "accounts.sqlite").read_bytes()


def test_an_admin_adds_people_and_a_labeller_cannot(app):
    admin = local_client(app)
    token = log_in(admin, "admin")
    added = admin.post(
        "/admin/users", data={"name": "cy", "secret": "cy-secret-1", "csrf": token}, headers=JSON
    )
    assert added.json() == {"name": "cy", "role": "labeller"}
    refused = admin.post(
        "/admin/users", data={"name": "AUTO", "secret": "cy-secret-1", "csrf": token}, headers=JSON
    )
    assert refused.status_code == 400 and "reserved" in refused.json()["error"]
    cy = local_client(app)
    cy_token = log_in(cy, "cy")
    data = {"name": "mallory", "secret": "mallory-1", "admin": "1", "csrf": cy_token}
    assert cy.post("/admin/users", data=data).status_code == 403
    # Only an admin adds a code.
    typed = cy.post("/dialog/propose", data={"new_code": "ask about boats", "csrf": cy_token})
    assert "Only an admin" in typed.text


def test_export_streams_and_leaves_no_files(app, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    client = local_client(app)
    token = log_in(client, "admin")
    client.post("/dialog/propose", data={"code_id": "1", "csrf": token})
    client.post("/dialog/decide", data={"verdict": "accept", "csrf": token})
    for _ in range(5):
        export = client.get("/export")
        assert export.status_code == 200 and export.text.count("\n") == 1
    assert "attachment" in export.headers["content-disposition"]
    assert list(scratch.iterdir()) == []


def test_every_answer_carries_the_security_headers(app):
    client = local_client(app)
    for answer in (client.get("/login"), client.get("/static/keys.js"),
                   client.get("/login", headers={"host": "attacker.example"})):  # fmt: skip
        headers = answer.headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
    assert "<script>" not in client.get("/login").text  # no inline script for the CSP to block
    assert client.get("/static/../label_web.py").status_code == 404


def test_the_session_cookie_is_http_only_and_strict(app):
    client = local_client(app)
    cookie = client.get("/login").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def serve_labels(*args: str, env: dict | None = None):
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "convenv.cli", "serve-labels", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_users_command_adds_lists_and_removes(store_path):
    added = serve_labels(
        "users", "--store", store_path, "add", "alice", "--admin", "--secret-env", "SECRET",
        env={"SECRET": "alice-secret-1"},
    )  # fmt: skip
    assert added.returncode == 0 and "admin 'alice'" in added.stdout
    again = serve_labels(
        "users", "--store", store_path, "add", "ALICE", "--secret-env", "SECRET",
        env={"SECRET": "alice-secret-1"},
    )  # fmt: skip
    assert again.returncode == 2 and "taken" in again.stderr
    listed = serve_labels("users", "--store", store_path, "list")
    assert listed.stdout.split() == ["alice", "admin"]
    from convenv.training.label_accounts import accounts_path

    assert Accounts(accounts_path(store_path)).verify("alice", "alice-secret-1").is_admin
    assert serve_labels("users", "--store", store_path, "remove", "alice").returncode == 0
    assert serve_labels("users", "--store", store_path, "list").stdout == ""


def test_listening_beyond_loopback_needs_accounts_and_a_host_name(store_path):
    alone = serve_labels("--store", store_path, "--host", "0.0.0.0")
    assert alone.returncode == 2 and "no accounts" in alone.stderr
    stub_app(store_path)  # creates accounts beside the store
    nameless = serve_labels("--store", store_path, "--host", "0.0.0.0")
    assert nameless.returncode == 2 and "--allowed-host" in nameless.stderr


def test_a_busy_port_is_one_line_before_anything_loads(store_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve_labels("--store", store_path, "--port", str(port))
    assert done.returncode == 2 and f"--port {port}" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_review_api_answers_json_without_asking(app):
    client = local_client(app)
    log_in(client, "ann")
    assert set(client.get("/api/review").json()) == {"items", "sure", "csrf"}
