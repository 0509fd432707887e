"""Simulated sequential studies on normal scores: the family-wise error rate, power and seeds a design
gives (the figures tests/test_sequential.py and docs/sequential.md rely on)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.sequential.design import MIN_PERMUTATIONS, Design
from harness.sequential.test import run_test


def simulate(
    means: Sequence[float],
    studies: int,
    *,
    per_look: int = 5,
    looks: int = 4,
    alpha: float = 0.05,
    compare: str = "all",
    permutations: int = MIN_PERMUTATIONS,
    seed: int = 0,
    chunk: int = 50,
    signed_boundary: bool = False,
) -> dict[str, Any]:
    """``studies`` simulated sequential studies whose arms score N(means[a], 1): the rate of studies that
    declare any pair of equal arms different (family-wise error), each unequal pair's power (decided with
    the right sign), and mean seeds per arm. Deterministic given ``seed``: study s draws its scores and its
    relabellings from generators seeded by (seed, chunk of s)."""
    means_a = np.asarray(means, dtype=float)
    design = Design(tuple(f"arm{a}" for a in range(means_a.size)), per_look, looks, alpha, compare, None, permutations)
    pairs = design.pairs
    null = np.array([means_a[i] == means_a[j] for i, j in pairs])
    false_positive = 0
    right = np.zeros(len(pairs))
    seeds = np.zeros(means_a.size)
    for start in range(0, studies, chunk):
        size = min(chunk, studies - start)
        entropy = [seed, start // chunk]
        rng = np.random.default_rng(np.random.SeedSequence([*entropy, 1 << 20]))
        data = rng.standard_normal((size, means_a.size, looks, per_look)) + means_a[None, :, None, None]
        out = run_test(data, design, seed=entropy, signed_boundary=signed_boundary)
        decided = ~out.open
        false_positive += int((decided & null).any(axis=1).sum())
        truth = np.sign(np.array([means_a[i] - means_a[j] for i, j in pairs]))
        right += (decided & (out.sign == truth)).sum(axis=0)
        seeds += out.seeds_per_arm().sum(axis=0)
    return {
        "studies": studies,
        "means": means_a.tolist(),
        "design": {
            "per_look": per_look,
            "looks": looks,
            "alpha": alpha,
            "compare": compare,
            "permutations": permutations,
        },
        "familywise_error": false_positive / studies if null.any() else None,
        "power": {design.comparisons[c]: float(right[c] / studies) for c in range(len(pairs)) if not null[c]},
        "mean_seeds_per_arm": float(seeds.sum() / (studies * means_a.size)),
        "seeds_per_arm": (seeds / studies).tolist(),
    }
