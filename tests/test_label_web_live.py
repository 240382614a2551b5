"""The labelling web app as a live server: 8 concurrent annotators, SIGKILL, and the
console session writing to the same store at once."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

httpx = pytest.importorskip("httpx", reason="the [dev] extra is not installed")
pytest.importorskip("fastapi", reason="the [web] extra is not installed")

from convenv.training.label_store import LabelStore  # noqa: E402
from tests.web_stubs import JSON, PEOPLE, decide, log_in, start_server  # noqa: E402

TEAM = (*PEOPLE, *(f"person{k}" for k in range(8)), "web")

pytestmark = pytest.mark.slow


def annotator(url: str, name: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, timeout=30)
    return client, log_in(client, name)


@pytest.fixture
def server(tmp_path):
    store = str(tmp_path / "team.sqlite")
    process, url = start_server(store, size=200, people=TEAM)
    yield store, url, process
    process.kill()
    process.wait()


def test_eight_annotators_times_200_decisions_lose_nothing(server):
    store, url, _ = server
    latencies: list[float] = []
    failures: list[int] = []

    def work(k: int) -> None:
        client, token = annotator(url, f"person{k}")
        items = client.get("/api/review", headers=JSON).json()["items"]
        assert len(items) == 200
        for item in items:
            started = time.perf_counter()
            response = decide(client, token, item, ("accept", "reject")[len(item["question"]) % 2])
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                failures.append(response.status_code)

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    assert failures == []
    decisions = LabelStore(store).decisions()
    assert len(decisions) == 1600
    assert len({(d.key(), d.labeller) for d in decisions}) == 1600
    latencies.sort()
    print(f"\n1600 decisions in {seconds:.1f} s: {1600 / seconds:.0f}/s, "
          f"p95 latency {1000 * latencies[int(0.95 * len(latencies))]:.0f} ms")  # fmt: skip


def test_every_acknowledged_decision_survives_sigkill(server):
    store, url, process = server
    client, token = annotator(url, "ann")
    items = client.get("/api/review", headers=JSON).json()["items"]
    acknowledged = []
    for i, item in enumerate(items):
        if i == 60:
            os.kill(process.pid, signal.SIGKILL)  # mid-stream, between two requests
        try:
            response = decide(client, token, item)
        except httpx.HTTPError:
            break
        if 200 <= response.status_code < 300:
            acknowledged.append(item["question"])
    process.wait()
    assert len(acknowledged) == 60
    restarted, _ = start_server(store, people=TEAM)
    try:
        stored = {d.proposed for d in LabelStore(store).decisions()}
        assert set(acknowledged) <= stored
    finally:
        restarted.kill()
        restarted.wait()


def test_eight_annotators_and_a_sigkill_lose_no_acknowledged_decision(server):
    store, url, process = server
    acknowledged: list[tuple[str, str]] = []
    halfway = threading.Event()

    def work(k: int) -> None:
        client, token = annotator(url, f"person{k}")
        for item in client.get("/api/review", headers=JSON).json()["items"]:
            try:
                response = decide(client, token, item)
            except httpx.HTTPError:
                return  # the server is gone: this answer never came
            if response.status_code == 200:
                acknowledged.append((f"person{k}", item["question"]))
            if len(acknowledged) >= 400:
                halfway.set()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    assert halfway.wait(120)
    os.kill(process.pid, signal.SIGKILL)  # while eight clients are posting
    for thread in threads:
        thread.join()
    process.wait()
    stored = {(d.labeller, d.proposed) for d in LabelStore(store).decisions()}
    lost = set(acknowledged) - stored
    print(f"\n8 annotators, kill -9 mid-stream: {len(acknowledged)} acknowledged, "
          f"{len(stored)} stored, {len(lost)} lost")  # fmt: skip
    assert lost == set() and len(acknowledged) >= 400
    assert len(stored) - len(acknowledged) <= 8  # at most one in flight per client


def test_console_and_web_app_write_the_same_store_at_once(server):
    from tests.web_stubs import stub_components

    store, url, _ = server
    client, token = annotator(url, "web")
    items = client.get("/api/review", headers=JSON).json()["items"][:50]
    from convenv.training.label_session import label_review

    answers = iter(["", "r"] * 100)
    console = threading.Thread(
        target=label_review,
        args=(LabelStore(store), stub_components(), 40),
        kwargs={
            "labeller": "console",
            "input_fn": lambda _: next(answers),
            "print_fn": lambda _: None,
            "seed": 99,
        },
    )
    console.start()
    codes = [decide(client, token, item).status_code for item in items]
    console.join()
    assert codes == [200] * 50
    who = [d.labeller for d in LabelStore(store).decisions()]
    assert who.count("web") == 50 and who.count("console") == 40
