"""Remember what was built for the last batch: a vector env sends the same one again."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import is_
from typing import Generic, TypeVar

import numpy as np

Item = TypeVar("Item")
Value = TypeVar("Value")


class LastBatch(Generic[Item, Value]):
    """``build(items)`` for a batch of items, reused while the same batch comes back.

    A vector env passes the same episodes, in the same order, step after step until
    one of them ends, so arrays stacked from per-episode state once serve a whole
    episode's worth of steps. Items are compared by identity, not equality: the check
    is a pointer comparison per item, and equal-looking items never share a value.
    Keeping the items referenced also keeps their identities from being reused.

    Args:
        build: Makes the value for a batch of items.
        single: Makes the value for a batch of one, uncached (default: ``build``): one
            item needs no stacking, and a single env sharing the models must not evict
            the batch a vector env is about to send again.
    """

    def __init__(
        self,
        build: Callable[[Sequence[Item]], Value],
        single: Callable[[Item], Value] | None = None,
    ) -> None:
        self._build = build
        self._single = single
        self._items: tuple[Item, ...] | None = None  # None: nothing built yet
        self._value: Value | None = None

    def __call__(self, items: Sequence[Item]) -> Value:
        if self._single is not None and len(items) == 1:
            return self._single(items[0])
        known = self._items
        if known is None or len(items) != len(known) or not all(map(is_, items, known)):
            self._items, self._value = None, None  # a failing build must not leave a stale pair
            value = self._build(items)
            self._items, self._value = tuple(items), value
        return self._value  # type: ignore[return-value]


def padded_stack(arrays: Sequence[np.ndarray], dtype=None) -> np.ndarray:
    """Per-episode arrays (same trailing shape) zero-padded to the longest and stacked:
    ``(N, longest, ...)``; row ``i`` holds ``arrays[i]`` in ``[i, :len(arrays[i])]``."""
    width = max(len(a) for a in arrays)
    out = np.zeros((len(arrays), width, *arrays[0].shape[1:]), dtype or arrays[0].dtype)
    for i, array in enumerate(arrays):
        out[i, : len(array)] = array
    return out
