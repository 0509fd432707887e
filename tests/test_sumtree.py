"""SumTree: exact sums and prefix-sum lookups against hand-computed values, and input checks."""

from __future__ import annotations

import numpy as np
import pytest

from custom_td3.sumtree import SumTree


def tree_with(priorities: list[float], capacity: int | None = None) -> SumTree:
    tree = SumTree(capacity or len(priorities))
    tree.update(np.arange(len(priorities)), np.array(priorities))
    return tree


def test_sums_and_lookups_by_hand():
    tree = tree_with([1.0, 2.0, 3.0, 4.0])
    assert tree.total == 10.0
    assert tree.nodes.tolist() == [10.0, 3.0, 7.0, 1.0, 2.0, 3.0, 4.0]
    values = [0.0, 0.99, 1.0, 2.99, 3.0, 5.99, 6.0, 9.99]
    assert tree.find(np.array(values)).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert tree.get(np.array([3, 0])).tolist() == [4.0, 1.0]
    assert tree.find(np.array([], dtype=np.float64)).tolist() == []


def test_update_recomputes_ancestors():
    tree = tree_with([1.0, 2.0, 3.0, 4.0])
    tree.update(np.array([1, 3]), np.array([0.5, 10.0]))
    assert tree.nodes.tolist() == [14.5, 1.5, 13.0, 1.0, 0.5, 3.0, 10.0]
    assert tree.find(np.array([1.49, 1.5, 4.49, 4.5])).tolist() == [1, 2, 2, 3]
    tree.update(np.array([2]), 0.0)  # a scalar priority applies to every index
    assert tree.total == 11.5
    assert tree.find(np.array([1.5, 11.5])).tolist() == [3, 3]


def test_repeated_indices_last_value_wins():
    tree = tree_with([1.0, 2.0, 3.0, 4.0])
    tree.update(np.array([2, 0, 2, 0, 2]), np.array([7.0, 5.0, 9.0, 6.0, 0.25]))
    assert tree.get(np.arange(4)).tolist() == [6.0, 2.0, 0.25, 4.0]
    assert tree.total == 12.25
    assert tree.nodes[:3].tolist() == [12.25, 8.0, 4.25]


def test_capacity_not_a_power_of_two():
    tree = tree_with([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (tree.n_leaves, tree.depth) == (8, 3)
    assert tree.total == 15.0
    values = [0.0, 0.5, 1.0, 2.99, 3.0, 5.99, 6.0, 9.99, 10.0, 14.99, 15.0]
    assert tree.find(np.array(values)).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4]
    single = tree_with([2.5])
    assert single.total == 2.5
    assert single.find(np.array([0.0, 1.0, 2.5])).tolist() == [0, 0, 0]


def test_value_at_total_never_lands_on_an_empty_leaf():
    # Three of seven leaves filled: the padding and unfilled leaves 3..7 hold 0.
    tree = tree_with([1.0, 2.0, 3.0], capacity=7)
    assert tree.find(np.array([6.0, np.nextafter(6.0, 0.0)])).tolist() == [2, 2]
    # An empty leaf in the middle is skipped from both sides.
    middle = tree_with([1.0, 0.0, 3.0])
    assert middle.find(np.array([0.999, 1.0, 4.0])).tolist() == [0, 2, 2]
    # Sums that do not round exactly: tenths never add up to what the root holds.
    tenths = tree_with([0.1] * 7, capacity=13)
    top = tenths.total
    found = tenths.find(np.array([top, np.nextafter(top, 0.0), 0.3, 0.0]))
    assert found[:2].tolist() == [6, 6]
    assert tenths.get(found).min() == 0.1


def test_invalid_inputs_raise_clearly():
    with pytest.raises(ValueError, match="capacity = 0"):
        SumTree(0)
    tree = tree_with([1.0, 2.0, 3.0], capacity=3)
    with pytest.raises(IndexError, match=r"out of range \[0, 3\)"):
        tree.update(np.array([3]), np.array([1.0]))
    with pytest.raises(IndexError, match="out of range"):
        tree.update(np.array([-1]), np.array([1.0]))
    with pytest.raises(IndexError, match="out of range"):
        tree.get(np.array([3]))  # a padding leaf: exists in the array, not in the tree
    with pytest.raises(TypeError, match="must be integers"):
        tree.get(np.array([1.0]))
    with pytest.raises(ValueError, match="finite and non-negative"):
        tree.update(np.array([0]), np.array([-1.0]))
    with pytest.raises(ValueError, match="finite and non-negative"):
        tree.update(np.array([0]), np.array([np.nan]))
    with pytest.raises(ValueError, match="2 indices but 3 priorities"):
        tree.update(np.array([0, 1]), np.array([1.0, 2.0, 3.0]))
    for bad in (-0.5, 6.5, np.nan):
        with pytest.raises(ValueError, match=r"prefix sums must lie in \[0, total = 6.0\]"):
            tree.find(np.array([1.0, bad]))
    assert tree.get(np.arange(3)).tolist() == [1.0, 2.0, 3.0]  # failed calls changed nothing
    with pytest.raises(ValueError, match="all 0"):
        SumTree(4).find(np.array([0.0]))


def test_random_batched_updates_keep_every_node_an_exact_sum():
    rng = np.random.default_rng(0)
    tree, reference = SumTree(37), np.zeros(37)
    for _ in range(50):
        indices = rng.integers(0, 37, size=rng.integers(1, 20))  # repeats included
        priorities = rng.uniform(0, 5, size=indices.size)
        tree.update(indices, priorities)
        for index, priority in zip(indices, priorities, strict=True):  # a plain loop: the last value wins
            reference[index] = priority
    assert np.array_equal(tree.get(np.arange(37)), reference)
    internal = np.arange(tree.n_leaves - 1)
    assert np.array_equal(tree.nodes[internal], tree.nodes[2 * internal + 1] + tree.nodes[2 * internal + 2])
    prefix = np.concatenate([[0.0], np.cumsum(reference)])
    starts = prefix[:-1][reference > 0]
    assert np.array_equal(tree.find(starts * (1 + 1e-12)), np.flatnonzero(reference > 0))
