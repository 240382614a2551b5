"""LRU caches keyed by text whose values are the rows of one preallocated array."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from convenv.errors import InvalidArgumentError


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
