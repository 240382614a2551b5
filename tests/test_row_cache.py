"""RowCache: an LRU of fixed-shape values stored as rows of one array."""

import numpy as np
import pytest

from convenv.batching import RowCache
from convenv.errors import InvalidArgumentError


def test_get_put_and_least_recently_used_eviction():
    cache = RowCache((2,), capacity=3)
    cache.put(["a", "b", "c"], np.array([[1, 1], [2, 2], [3, 3]], np.float32))
    np.testing.assert_array_equal(cache.get(["c", "a"]), [[3, 3], [1, 1]])
    cache.put(["d"], np.array([[4, 4]], np.float32))  # evicts b, the least recently used
    assert "b" not in cache and len(cache) == 3
    assert cache.missing(["a", "b", "d", "b"]) == ["b"]
    np.testing.assert_array_equal(cache.get(["d", "a", "c"]), [[4, 4], [1, 1], [3, 3]])
    with pytest.raises(KeyError):
        cache.get(["b"])


def test_view_is_a_view_and_growth_keeps_values():
    cache = RowCache((2, 3), capacity=5000, dtype=np.int32)
    texts = [f"t{i}" for i in range(3000)]  # more than the first allocation
    values = np.arange(3000 * 6, dtype=np.int32).reshape(3000, 2, 3)
    cache.put(texts, values)
    np.testing.assert_array_equal(cache.get(texts[::-1]), values[::-1])
    view = cache.view("t7")
    assert view.base is not None and view.dtype == np.int32
    np.testing.assert_array_equal(view, values[7])
    assert cache.view("absent") is None


def test_updates_in_place_and_more_texts_than_capacity():
    cache = RowCache((1,), capacity=2)
    cache.put(["a"], np.array([[1.0]]))
    cache.put(["a"], np.array([[5.0]]))
    assert len(cache) == 1 and cache.get(["a"])[0, 0] == 5.0
    cache.put(["x", "y", "z"], np.array([[1.0], [2.0], [3.0]]))  # only the last 2 fit
    assert cache.missing(["x", "y", "z"]) == ["x"]
    with pytest.raises(ValueError, match="capacity"):
        RowCache((1,), capacity=0)


def test_a_bounded_cache_forgets_its_oldest_entries_first_and_pickles():
    import pickle

    from convenv.batching import BoundedCache

    cache: BoundedCache[str, int] = BoundedCache(3)
    for i, key in enumerate("abcd"):
        assert cache.put(key, i) == i
    assert list(cache.items()) == [("b", 1), ("c", 2), ("d", 3)]
    cache.put("c", 20)  # a stored key keeps its place: "b" is still the oldest
    cache.put("e", 4)
    assert list(cache) == ["c", "d", "e"] and cache["c"] == 20
    copy = pickle.loads(pickle.dumps(cache))
    assert copy.capacity == 3 and list(copy.items()) == list(cache.items())
    copy.put("f", 5)
    assert list(copy) == ["d", "e", "f"]
    with pytest.raises(InvalidArgumentError, match="capacity=0"):
        BoundedCache(0)
