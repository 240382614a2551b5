"""Package attributes that import their module on first use (keeps imports cheap)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module


def lazy_attributes(package: str, sources: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` that loads ``name`` from ``sources[name]`` when asked."""

    def __getattr__(name: str) -> object:
        if name in sources:
            return getattr(import_module(sources[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
