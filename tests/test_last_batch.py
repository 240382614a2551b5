"""LastBatch rebuilds exactly when the batch's items (by identity) change."""

import numpy as np
import pytest

from convenv.batching import LastBatch, padded_stack


def test_reuses_the_value_for_the_same_items_only():
    builds = []
    cache = LastBatch(lambda items: builds.append(list(items)) or len(builds))
    a, b = ["episode a"], ["episode b"]
    assert cache([a, b]) == cache([a, b]) == 1  # same objects, same order: built once
    assert cache([b, a]) == 2  # order matters
    assert cache([b, a, a]) == 3
    assert cache([b, a, ["episode a"]]) == 4  # equal is not identical
    assert len(builds) == 4


def test_an_empty_first_batch_is_built():
    # Not mistaken for "nothing built yet", which would return None.
    assert LastBatch(lambda items: "built")([]) == "built"


def test_a_batch_of_one_is_not_cached_and_evicts_nothing():
    builds, singles = [], []
    cache = LastBatch(lambda items: builds.append(1) or "stacked", singles.append)
    a, b = object(), object()
    cache([a, b])
    cache([a])
    cache([b])
    assert cache([a, b]) == "stacked"
    assert len(builds) == 1 and singles == [a, b]


def test_a_failing_build_leaves_nothing_behind():
    calls = []

    def build(items):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return len(calls)

    cache = LastBatch(build)
    a, b = object(), object()
    assert cache([a, b]) == 1
    with pytest.raises(RuntimeError, match="boom"):
        cache([b, a])  # say it had rebound some items' state before it failed
    assert cache([a, b]) == 3  # rebuilt: the first batch's value may be stale now


def test_padded_stack_pads_each_row_to_the_longest():
    rows = [np.ones((2, 3), np.float32), np.full((4, 3), 2, np.float32)]
    out = padded_stack(rows)
    assert out.shape == (2, 4, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0, :2], rows[0])
    assert not out[0, 2:].any()  # zero padding
    np.testing.assert_array_equal(out[1], rows[1])
    assert padded_stack([np.array([True, False])], bool).dtype == bool
