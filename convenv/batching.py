"""Batching helpers: arrays stacked from per-episode state, and text-keyed row caches.

A vector env passes the same episodes, in the same order, step after step until one
of them ends; :class:`LastBatch` keeps what was stacked for them. :class:`RowCache`
keeps text-keyed values (embeddings, shortlists) as rows of one preallocated array,
so a lookup of N texts is one fancy index. :class:`BoundedCache` is a dict that
forgets its oldest entries.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from operator import is_
from typing import Generic, TypeVar

import numpy as np

from convenv.errors import InvalidArgumentError

Item = TypeVar("Item")
Key = TypeVar("Key")
Value = TypeVar("Value")


class BoundedCache(OrderedDict[Key, Value]):
    """A dict of at most ``capacity`` entries that forgets the oldest first.

    Not a plain dict evicted with ``d.pop(next(iter(d)))``: a dict's iterator walks
    over every slot deleted since the dict last resized, so at 50,000 entries each
    eviction scanned tens of thousands of slots (18% of a consistent-partner step);
    ``popitem(last=False)`` unlinks the oldest entry in constant time.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise InvalidArgumentError(f"capacity={capacity}; pass at least 1.")
        super().__init__()
        self.capacity = capacity

    def put(self, key: Key, value: Value) -> Value:
        """Store ``value`` under ``key`` (forgetting the oldest entry when full); returns it."""
        self[key] = value
        if len(self) > self.capacity:
            self.popitem(last=False)
        return value

    def __reduce__(self):  # OrderedDict's would call the class without its capacity
        return type(self), (self.capacity,), None, None, iter(self.items())


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


class RowCache:
    """Least-recently-used text → fixed-shape array cache backed by one array.

    A lookup of N texts is one fancy index into the array, not N small arrays
    stacked: an env step looks up a few hundred cached sentences, and stacking them
    one by one cost more than everything else the step did.

    Args:
        row_shape: Shape of one value (``(dim,)`` for an embedding).
        capacity: Most texts kept; the least recently used one makes room.
        dtype: Element type of the values.
    """

    def __init__(self, row_shape: tuple[int, ...], capacity: int, dtype=np.float32) -> None:
        if capacity < 1:
            raise InvalidArgumentError(f"capacity={capacity!r}; pass a positive number of texts.")
        self.row_shape = tuple(row_shape)
        self.capacity = capacity
        self._rows: OrderedDict[str, int] = OrderedDict()
        self._array = np.zeros((min(capacity, 1024), *self.row_shape), dtype)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, text: str) -> bool:
        return text in self._rows

    def missing(self, texts: Sequence[str]) -> list[str]:
        """The distinct texts that are not cached, in first-seen order."""
        rows = self._rows
        return [t for t in dict.fromkeys(texts) if t not in rows]

    def get(self, texts: Sequence[str]) -> np.ndarray:
        """The values of cached texts stacked, ``(len(texts), *row_shape)``; KeyError if absent."""
        rows = self._rows
        index = list(map(rows.__getitem__, texts))
        for _ in map(rows.move_to_end, texts):  # map: the loop body runs in C
            pass
        return self._array[index]

    def view(self, text: str) -> np.ndarray | None:
        """The cached value of one text as a view (no copy), or None."""
        row = self._rows.get(text)
        if row is None:
            return None
        self._rows.move_to_end(text)
        return self._array[row]

    def put(self, texts: Sequence[str], values: np.ndarray) -> None:
        """Store values; only the last ``capacity`` texts are kept if more are given."""
        texts, values = list(texts)[-self.capacity :], values[-self.capacity :]
        index = []
        for text in texts:
            row = self._rows.get(text)
            if row is not None:
                self._rows.move_to_end(text)
            elif len(self._rows) < self.capacity:
                row = len(self._rows)
                self._rows[text] = row
            else:  # full: reuse the row of the least recently used text
                _, row = self._rows.popitem(last=False)
                self._rows[text] = row
            index.append(row)
        if index and max(index) >= len(self._array):
            self._grow(max(index) + 1)
        self._array[index] = values

    def _grow(self, needed: int) -> None:
        size = len(self._array)
        while size < needed:
            size = min(2 * size, self.capacity)
        grown = np.zeros((size, *self.row_shape), self._array.dtype)
        grown[: len(self._array)] = self._array
        self._array = grown
