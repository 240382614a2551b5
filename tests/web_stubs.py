"""Fast stand-in agents for the labelling web app, importable by a server subprocess."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from convenv.agents.base import DialogContext
from convenv.testing import EchoPartner, HashingEncoder

PERSONAS = [
    ("i have a black lab named trooper.", "i work as a nurse.", "i love pizza."),
    ("i play the guitar.", "i live in paris.", "i have two kids."),
]


class SeededInterviewer:
    """A different question per seed (so review rounds never run out), about its goal."""

    def __init__(self) -> None:
        self.bank: list[tuple[str, str]] = []

    def respond(self, contexts: Sequence[DialogContext]) -> list[str]:
        return [f"question {c.seed} for {c.goal.removesuffix('.')}?" for c in contexts]

    def add_question(self, goal: str, question: str) -> None:
        self.bank.append((goal, question))


@dataclass
class Identifier:
    encoder: object


@dataclass
class Components:
    partner: object
    interviewer: object
    identifier: object


JSON = {"accept": "application/json"}


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


ADMIN = "admin"
PEOPLE = (ADMIN, "ann", "bob")  # the accounts a stub app has (admin is the admin)


def secret_of(name: str) -> str:
    return f"{name}-secret-1"


def log_in(client, name: str, secret: str | None = None) -> str:
    """Log ``client`` (an httpx or Starlette test client) in as ``name``; the new
    session's CSRF token (AssertionError if the log-in is refused)."""
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"name": name, "secret": secret or secret_of(name), "csrf": token},
        headers=JSON,
    )
    assert response.status_code == 200, response.text
    return response.json()["csrf"]


def decide(client, token: str, item: dict, verdict: str = "accept"):
    """Post one review decision about a queued ``item`` (as JSON, so 200 means stored)."""
    data = {"code": item["code"], "question": item["question"], "verdict": verdict}
    return client.post("/review/decide", data={**data, "csrf": token}, headers=JSON)


def stub_components() -> Components:
    return Components(EchoPartner(), SeededInterviewer(), Identifier(HashingEncoder()))


def stub_accounts(store: str, people: Sequence[str] = PEOPLE):
    """The accounts beside ``store``, with ``people`` in them (created once)."""
    from convenv.training.label_accounts import Accounts, accounts_path

    accounts = Accounts(accounts_path(store))
    have = {a.name for a in accounts.all()}
    for name in people:
        if name not in have:
            accounts.add(name, secret_of(name), "admin" if name == ADMIN else "labeller")
    return accounts


def stub_app(
    store: str, auto_accept: float | None = None, size=50, people: Sequence[str] = PEOPLE, **kw
):
    from convenv.training.label_web import create_app

    accounts = stub_accounts(store, people)
    return create_app(store, stub_components(), PERSONAS, accounts, auto_accept, size, **kw)


def local_client(app):
    """A Starlette test client that names an allowed Host (loopback)."""
    from fastapi.testclient import TestClient

    return TestClient(app, base_url="http://localhost")


def serve(store: str, port: int, size: int = 50, people: Sequence[str] = PEOPLE) -> None:
    """Run the app on 127.0.0.1:port (for tests that need a live server)."""
    import uvicorn

    app = stub_app(store, size=size, people=people)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    store: str, size: int = 50, people: Sequence[str] = PEOPLE
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    import httpx

    process = subprocess.Popen(
        [sys.executable, "-m", "tests.web_stubs", store, str(port), str(size), *people],
        cwd=os.getcwd(),
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(url + "/login", timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start")


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:] or PEOPLE)
