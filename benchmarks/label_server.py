"""Decisions per second and decision latency of the labelling web app (``convenv
serve-labels``) on its SQLite store: 1 annotator vs 8 at once, each posting
``--decisions`` review decisions over HTTP as fast as the server answers, side by
side in one run. The server runs the app with fast stand-in agents (the test
stubs), so what is timed is HTTP, the form handling and the committed SQLite write
(WAL, synchronous=FULL) of each decision.

Usage: python benchmarks/label_server.py [--decisions 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

# The test stubs live in the repository's tests/ package: run from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.web_stubs import JSON, decide, log_in, start_server


def run(url: str, annotators: int, decisions: int) -> tuple[float, list[float]]:
    """(decisions per second, per-decision latencies in seconds)."""
    latencies: list[float] = []
    ready = threading.Barrier(annotators + 1)

    def work(k: int) -> None:
        client = httpx.Client(base_url=url, timeout=60)
        csrf = log_in(client, f"a{k}-{annotators}")
        items = client.get("/api/review", headers=JSON).json()["items"][:decisions]
        ready.wait()
        for item in items:
            started = time.perf_counter()
            decide(client, csrf, item).raise_for_status()
            latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(annotators)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return len(latencies) / (time.perf_counter() - started), sorted(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=200, help="per annotator")
    args = parser.parse_args()
    store = os.path.join(tempfile.mkdtemp(), "bench.sqlite")
    team = ["a0-1", *(f"a{k}-8" for k in range(8))]
    process, url = start_server(store, size=args.decisions, people=team)
    try:
        rows = {n: run(url, n, args.decisions) for n in (1, 8)}
    finally:
        process.kill()
    print(f"load average {os.getloadavg()[0]:.2f}; {args.decisions} decisions per annotator\n")
    print("| annotators | decisions/s | p50 ms | p95 ms |")
    print("|---|---|---|---|")
    for n, (rate, latencies) in rows.items():
        p50, p95 = latencies[len(latencies) // 2], latencies[int(0.95 * len(latencies))]
        print(f"| {n} | {rate:.0f} | {1000 * p50:.0f} | {1000 * p95:.0f} |")
    print(f"\n8 annotators / 1 annotator throughput: {rows[8][0] / rows[1][0]:.2f}×")


if __name__ == "__main__":
    main()
