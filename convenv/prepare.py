"""``convenv prepare``: build every cache a job needs, once, before the jobs start.

The first env on a machine embeds the retrieval pool, the answer sentences and the
persona facts (minutes on a CPU) and writes them to ``$CONVENV_CACHE``. Run this once
per machine (or once on shared storage that every machine mounts as
``CONVENV_CACHE``) so that training workers, notebook kernels and CI start warm.
Concurrent builders of the same file build it once (a file lock), so running it on
several machines that share the cache is safe. A build that is stopped keeps every
chunk it finished: run it again and it goes on from the first chunk it lacks.
"""

from __future__ import annotations

import argparse
import time

from convenv.cli import plain

PARTS = ("default", "consistent", "filtered")


def prepare(parts=PARTS, pool_dialogs: int | None = None, device: str = "auto") -> dict:
    """Build the named parts (each loads from the cache if it is there); returns the
    seconds each took."""
    from convenv.defaults import (
        DEFAULT_POOL_DIALOGS,
        consistent_partner,
        default_components,
        filtered_identifier,
    )

    pool = pool_dialogs or DEFAULT_POOL_DIALOGS
    seconds: dict[str, float] = {}
    for part in parts:
        started = time.perf_counter()
        if part == "default":
            default_components(pool, device)
        elif part == "consistent":
            partner = consistent_partner(pool, device)
            partner.pool_sentences()  # the sentences it states facts with
        elif part == "filtered":
            filtered_identifier(pool, device)
        seconds[part] = time.perf_counter() - started
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convenv prepare",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--parts", nargs="+", choices=PARTS, default=list(PARTS), help="what to build"
    )
    parser.add_argument("--pool-dialogs", type=int, default=None, help="retrieval pool size")
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda:N")
    args = parser.parse_args(argv)
    from convenv.cache import default_cache_dir

    for part, took in prepare(args.parts, args.pool_dialogs, args.device).items():
        print(f"{part:10s} ready in {took:6.1f} s")
    print(f"cache: {default_cache_dir()}")
    return 0
