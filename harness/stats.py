"""Small pure statistics over per-seed scores. ``scores`` is a 1-D array, one value per seed."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats as sps


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50% (25% trimmed from each end, as rliable)."""
    return float(sps.trim_mean(np.asarray(scores, dtype=float), 0.25))


def bootstrap_ci(
    scores: np.ndarray,
    statistic: Callable[[np.ndarray], float] = np.mean,
    reps: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of ``statistic`` over seeds.

    Resamples seeds with replacement ``reps`` times; deterministic given ``seed``. With one
    score the interval is that score (there is nothing to resample).
    """
    x = np.asarray(scores, dtype=float)
    if x.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(reps, x.size))
    values = np.array([statistic(row) for row in x[idx]]) if statistic is not np.mean else x[idx].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)
