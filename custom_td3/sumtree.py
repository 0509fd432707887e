"""A sum tree over priorities: O(log N) batched updates and prefix-sum lookups, vectorized.

The tree is a flat float64 array in heap order: node i has children 2i+1 and 2i+2; the
``capacity`` leaves (rounded up to a power of two, unused leaves stay 0) start at
``n_leaves - 1``. Every internal node holds the sum of its children, so the root is the total.
"""

from __future__ import annotations

import numpy as np


class SumTree:
    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"capacity = {capacity}; accepted: a positive integer")
        self.capacity = capacity
        self.depth = max(1, int(np.ceil(np.log2(capacity))))
        self.n_leaves = 2**self.depth
        self.nodes = np.zeros(2 * self.n_leaves - 1, dtype=np.float64)

    @property
    def total(self) -> float:
        return float(self.nodes[0])

    def get(self, indices: np.ndarray) -> np.ndarray:
        """Priorities of leaves ``indices`` (shape (B,))."""
        return self.nodes[np.asarray(indices) + self.n_leaves - 1]

    def update(self, indices: np.ndarray, priorities: np.ndarray) -> None:
        """Set leaves ``indices`` to ``priorities`` and recompute their ancestors.

        Repeated indices are allowed (the last value wins). Parents are recomputed from their
        children level by level, so the sums stay exact sums of the leaves.
        """
        indices = np.asarray(indices, dtype=np.int64)
        priorities = np.asarray(priorities, dtype=np.float64)
        if indices.size == 0:
            return
        if np.any(priorities < 0) or not np.all(np.isfinite(priorities)):
            raise ValueError("priorities must be finite and non-negative")
        if indices.min() < 0 or indices.max() >= self.capacity:
            raise IndexError(f"leaf index out of range [0, {self.capacity})")
        nodes = indices + self.n_leaves - 1
        self.nodes[nodes] = priorities
        for _ in range(self.depth):
            nodes = np.unique((nodes - 1) // 2)
            self.nodes[nodes] = self.nodes[2 * nodes + 1] + self.nodes[2 * nodes + 2]

    def find(self, values: np.ndarray) -> np.ndarray:
        """Leaf index for each prefix sum in ``values`` (shape (B,)), each in [0, total).

        Leaf i is returned for values in [sum of leaves < i, sum of leaves <= i): sampling
        ``values`` uniformly in [0, total) draws leaf i with probability p_i / total.
        """
        values = np.array(values, dtype=np.float64)
        nodes = np.zeros(values.shape, dtype=np.int64)
        for _ in range(self.depth):
            left = 2 * nodes + 1
            left_sum = self.nodes[left]
            # Never step into an empty subtree: rounding in the sums could otherwise carry a
            # value just below the total onto a zero-priority leaf past the last stored one.
            go_right = (values >= left_sum) & (self.nodes[left + 1] > 0)
            values -= np.where(go_right, left_sum, 0.0)
            nodes = left + go_right
        return nodes - (self.n_leaves - 1)
