"""A sum tree over priorities: O(log N) batched updates and prefix-sum lookups, vectorized.

The tree is a flat float64 array in heap order: node i has children 2i+1 and 2i+2; the
``capacity`` leaves (rounded up to a power of two, unused leaves stay 0) start at
``n_leaves - 1``. Every internal node holds the sum of its children, so the root is the total.
"""

from __future__ import annotations

import numpy as np


class SumTree:
    """``capacity`` non-negative priorities (all 0 at first) with their running sum.

    ``update`` and ``find`` take batches of shape (B,) and cost O(B log capacity) in numpy.
    Every internal node is always exactly ``left + right`` of its current children, so the
    tree is a function of its leaves alone (two trees with equal leaves are bit-identical).
    """

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"capacity = {capacity}; accepted: a positive integer")
        self.capacity = capacity
        self.depth = max(1, int(np.ceil(np.log2(capacity))))
        self.n_leaves = 2**self.depth
        self.nodes = np.zeros(2 * self.n_leaves - 1, dtype=np.float64)

    @property
    def total(self) -> float:
        """Sum of all priorities."""
        return float(self.nodes[0])

    def _check_indices(self, indices: np.ndarray) -> np.ndarray:
        indices = np.asarray(indices)
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(f"leaf indices must be integers, got dtype {indices.dtype}")
        indices = indices.astype(np.int64, copy=False).reshape(-1)
        if indices.size and (indices.min() < 0 or indices.max() >= self.capacity):
            raise IndexError(f"leaf index out of range [0, {self.capacity}): min {indices.min()}, max {indices.max()}")
        return indices

    def get(self, indices: np.ndarray) -> np.ndarray:
        """Priorities (float64, shape (B,)) of leaves ``indices`` (integers, shape (B,))."""
        priorities: np.ndarray = self.nodes[self._check_indices(indices) + self.n_leaves - 1]
        return priorities

    def update(self, indices: np.ndarray, priorities: np.ndarray | float) -> None:
        """Set leaves ``indices`` (shape (B,)) to ``priorities`` (shape (B,) or a scalar).

        Repeated indices are allowed: the last value wins. Parents are recomputed from their
        children level by level, so the sums stay exact sums of the leaves.
        """
        indices = self._check_indices(indices)
        priorities = np.asarray(priorities, dtype=np.float64)
        if priorities.ndim == 0:
            priorities = np.full(indices.shape, float(priorities))
        priorities = priorities.reshape(-1)
        if priorities.shape != indices.shape:
            raise ValueError(f"{indices.size} indices but {priorities.size} priorities")
        if indices.size == 0:
            return
        if not np.all(np.isfinite(priorities)) or np.any(priorities < 0):
            raise ValueError("priorities must be finite and non-negative")
        if indices.size > 1:
            # numpy does not promise which value a repeated index receives in a fancy assignment,
            # so keep the last occurrence explicitly; the stable sort keeps input order among equals.
            order = np.argsort(indices, kind="stable")
            indices, priorities = indices[order], priorities[order]
            last = np.append(indices[1:] != indices[:-1], True)
            indices, priorities = indices[last], priorities[last]
        nodes = indices + self.n_leaves - 1
        self.nodes[nodes] = priorities
        for _ in range(self.depth):
            # Shared parents need no dedupe: every copy of a parent is written the same sum.
            nodes = (nodes - 1) // 2
            left = 2 * nodes + 1
            self.nodes[nodes] = self.nodes[left] + self.nodes[left + 1]

    def find(self, values: np.ndarray) -> np.ndarray:
        """Leaf index (int64, shape (B,)) for each prefix sum in ``values`` (shape (B,)), each in [0, total].

        Leaf i is returned for values in [sum of leaves < i, sum of leaves <= i): sampling
        ``values`` uniformly in [0, total) draws leaf i with probability p_i / total. The result
        is never a zero-priority leaf, even for a value of exactly ``total``.
        """
        values = np.array(values, dtype=np.float64).reshape(-1)
        total = self.total
        if total <= 0:
            raise ValueError("find on a sum tree whose priorities are all 0")
        if values.size and (not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > total):
            raise ValueError(f"prefix sums must lie in [0, total = {total}]")
        nodes = np.zeros(values.shape, dtype=np.int64)
        for _ in range(self.depth):
            left = 2 * nodes + 1
            left_sum = self.nodes[left]
            # Never step into an empty subtree: rounding in the sums could otherwise carry a
            # value just below the total onto a zero-priority leaf past the last stored one.
            go_right = (values >= left_sum) & (self.nodes[left + 1] > 0)
            values -= np.where(go_right, left_sum, 0.0)
            nodes = left + go_right
        leaves: np.ndarray = nodes - (self.n_leaves - 1)
        return leaves
