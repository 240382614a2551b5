"""The on-disk cache: where it lives, and files that are written whole or not at all.

Every cache file (embedding matrices, the parsed Persona-Chat tables) is checked when
it is read and rebuilt with a warning when it is bad; a killed writer never leaves a
half-written file (write to a temporary name, fsync, rename); processes that build the
same file at once build it once (a file lock); an unwritable cache directory keeps
the result in memory, with a warning.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from filelock import FileLock

Value = TypeVar("Value")


def default_cache_dir() -> Path:
    """``$CONVENV_CACHE`` or ``~/.cache/convenv``."""
    return Path(os.environ.get("CONVENV_CACHE", Path.home() / ".cache" / "convenv"))


def write_atomically(path: Path, write: Callable[[object], None]) -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``, fsync it, then rename
    it to ``path`` (atomic on POSIX: readers see the old file or the whole new one)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def cached_build(
    path: Path,
    load: Callable[[Path], Value | None],
    build: Callable[[], Value],
    save: Callable[[Path, Value], None],
) -> Value:
    """The value cached at ``path``, built (once across processes) and saved if absent.

    ``load(path)`` returns the value, or None when the file is missing or bad (it warns
    about a bad one); ``save(path, value)`` writes it (use :func:`write_atomically`).
    """
    value = load(path)
    if value is not None:
        return value
    seen = _stamp(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock", timeout=-1):
            # Another process may have built it while this one waited for the lock.
            if _stamp(path) not in (None, seen):
                value = load(path)
            if value is None:
                value = build()
                save(path, value)
    except OSError as err:  # a read-only or full cache directory
        warnings.warn(
            f"could not write the cache file {path} ({err}); keeping it in memory only. "
            "Set CONVENV_CACHE to a writable directory to keep it.",
            stacklevel=2,
        )
        if value is None:
            value = build()
    return value


def _stamp(path: Path) -> tuple[int, int] | None:
    """What tells a file that changed from one that did not (None: no file)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
