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


def log_in(client, name: str) -> str:
    """Log ``client`` (an httpx or Starlette test client) in as ``name``; its CSRF token."""
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"name": name, "csrf": token}, headers=JSON)
    return token


def decide(client, token: str, item: dict, verdict: str = "accept"):
    """Post one review decision about a queued ``item`` (as JSON, so 200 means stored)."""
    data = {"code": item["code"], "question": item["question"], "verdict": verdict}
    return client.post("/review/decide", data={**data, "csrf": token}, headers=JSON)


def stub_components() -> Components:
    return Components(EchoPartner(), SeededInterviewer(), Identifier(HashingEncoder()))


def stub_app(store: str, token: str | None = None, auto_accept: float | None = None, size=50):
    from convenv.training.label_web import create_app

    return create_app(store, stub_components(), PERSONAS, token, auto_accept, size)


def serve(store: str, port: int, size: int = 50) -> None:
    """Run the app on 127.0.0.1:port (for tests that need a live server)."""
    import uvicorn

    uvicorn.run(stub_app(store, size=size), host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(store: str, size: int = 50) -> tuple[subprocess.Popen, str]:
    port = free_port()
    import httpx

    process = subprocess.Popen(
        [sys.executable, "-m", "tests.web_stubs", store, str(port), str(size)], cwd=os.getcwd()
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
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 50)
