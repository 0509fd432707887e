"""Small pure statistics for RL results, after Agarwal et al. (2021) and the rliable library.

Scores of one arm are a list of per-task arrays, ``[scores_task_0 (runs_0,), scores_task_1 (runs_1,), ...]``
(runs may differ per task); the runs of a single task may also be given as one array. rliable itself
does not import with pandas 3 (its dependency ``arch`` fails), so these are written on numpy/scipy,
tested against the definitions on small arrays with exact answers, and against numbers rliable 1.2.0
computed on the committed fixture study (tests/test_stats.py).

Aggregates over tasks follow rliable: the IQM and the optimality gap pool every run of every task;
the mean and the median are taken over the per-task means. For the runs of one task (an array),
``mean`` and ``median`` are those of the runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats as sps

Scores = Sequence[np.ndarray]


def _flat(scores: Scores | np.ndarray) -> np.ndarray:
    if isinstance(scores, np.ndarray):
        return scores.astype(float).ravel()
    return np.concatenate([np.asarray(s, dtype=float).ravel() for s in scores])


def iqm(scores: Scores | np.ndarray) -> float:
    """Interquartile mean of all runs of all tasks: the mean of the middle 50% (25% cut each end)."""
    return float(sps.trim_mean(_flat(scores), 0.25))


def _task_means(scores: Scores) -> np.ndarray:
    return np.array([np.mean(np.asarray(s, dtype=float)) for s in scores])


def mean(scores: Scores | np.ndarray) -> float:
    """The mean of an array of runs; over tasks, the mean of the per-task means (rliable's aggregate mean)."""
    if isinstance(scores, np.ndarray):
        return float(np.mean(scores.astype(float)))
    return float(np.mean(_task_means(scores)))


def median(scores: Scores | np.ndarray) -> float:
    """The median of an array of runs; over tasks, the median of the per-task means (rliable's aggregate median)."""
    if isinstance(scores, np.ndarray):
        return float(np.median(scores.astype(float)))
    return float(np.median(_task_means(scores)))


def optimality_gap(scores: Scores | np.ndarray, threshold: float = 1.0) -> float:
    """Mean shortfall below ``threshold``: mean(max(threshold - score, 0)); 0 when every run reaches it."""
    return float(np.mean(np.maximum(threshold - _flat(scores), 0.0)))


def probability_of_improvement(x: Scores, y: Scores) -> float:
    """P(X > Y): the chance that a run of arm X beats a run of arm Y on the same task, ties counting
    half (the Mann-Whitney U statistic over n_x * n_y), averaged over tasks."""
    per_task = []
    for xs, ys in zip(x, y, strict=True):
        xs, ys = np.asarray(xs, dtype=float)[:, None], np.asarray(ys, dtype=float)[None, :]
        per_task.append(np.mean((xs > ys) + 0.5 * (xs == ys)))
    return float(np.mean(per_task))


def performance_profile(scores: Scores | np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Fraction of runs (all tasks pooled) whose score exceeds each tau; shape (len(taus),)."""
    flat = _flat(scores)
    return (flat[None, :] > np.asarray(taus, dtype=float)[:, None]).mean(axis=1)


def normalize(scores: np.ndarray, low: float, high: float) -> np.ndarray:
    """Min-max normalization: ``low`` (random policy) -> 0, ``high`` (threshold) -> 1."""
    return (np.asarray(scores, dtype=float) - low) / (high - low)


def steps_to_threshold(steps: np.ndarray, returns: np.ndarray, threshold: float) -> int | None:
    """The first evaluation step whose return reaches ``threshold``; None if none does."""
    hit = np.flatnonzero(np.asarray(returns, dtype=float) >= threshold)
    return int(np.asarray(steps)[hit[0]]) if hit.size else None


def stratified_bootstrap_ci(
    groups: Sequence[Scores],
    statistic: Callable[..., float],
    reps: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile CI of ``statistic(*groups)`` by the stratified bootstrap.

    ``groups`` holds one Scores per argument of ``statistic`` (one arm for IQM, two for P(X > Y));
    every repetition resamples the runs of each task of each group with replacement, so tasks
    keep their run counts (stratified by task). Deterministic given ``seed``.
    """
    rng = np.random.default_rng(seed)
    arrays = [[np.asarray(s, dtype=float) for s in g] for g in groups]
    batched = _BATCHED_TASKS.get(statistic)
    if batched is not None:  # the same resampling, all repetitions at once: (reps, runs) per task
        values = batched(*[[s[rng.integers(0, s.size, size=(reps, s.size))] for s in g] for g in arrays])
    else:
        values = np.empty(reps)
        for r in range(reps):
            resampled = [[s[rng.integers(0, s.size, s.size)] for s in g] for g in arrays]
            values[r] = statistic(*resampled)
    return _percentiles(values, confidence)


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)


def bootstrap_ci(
    scores: np.ndarray,
    statistic: Callable[[np.ndarray], float] = mean,
    reps: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """CI of ``statistic`` over the runs of one task (the one-task case of the stratified bootstrap)."""
    x = np.asarray(scores, dtype=float)
    if x.size == 0:
        return float("nan"), float("nan")
    batched = _BATCHED_RUNS.get(statistic)
    if batched is not None:
        rng = np.random.default_rng(seed)
        return _percentiles(batched(x[rng.integers(0, x.size, size=(reps, x.size))]), confidence)
    return stratified_bootstrap_ci([[x]], lambda s: statistic(s[0]), reps, confidence, seed)


# The statistics above, computed for every bootstrap repetition at once. Each takes, per group, the
# resampled runs of every task as (reps, runs) arrays (_BATCHED_TASKS) or of one task (_BATCHED_RUNS)
# and returns (reps,) values equal to the scalar function applied to each repetition (tested).
def _poi_batched(x: list[np.ndarray], y: list[np.ndarray]) -> np.ndarray:
    per_task = [
        ((xs[:, :, None] > ys[:, None, :]) + 0.5 * (xs[:, :, None] == ys[:, None, :])).mean(axis=(1, 2))
        for xs, ys in zip(x, y, strict=True)
    ]
    return np.mean(per_task, axis=0)


_BATCHED_TASKS: dict[Callable[..., float], Callable[..., np.ndarray]] = {
    iqm: lambda tasks: sps.trim_mean(np.concatenate(tasks, axis=1), 0.25, axis=1),
    mean: lambda tasks: np.mean([t.mean(axis=1) for t in tasks], axis=0),
    median: lambda tasks: np.median([t.mean(axis=1) for t in tasks], axis=0),
    optimality_gap: lambda tasks: np.maximum(1.0 - np.concatenate(tasks, axis=1), 0.0).mean(axis=1),
    probability_of_improvement: _poi_batched,
}
_BATCHED_RUNS: dict[Callable[..., float], Callable[[np.ndarray], np.ndarray]] = {
    iqm: lambda runs: sps.trim_mean(runs, 0.25, axis=1),
    mean: lambda runs: runs.mean(axis=1),
    median: lambda runs: np.median(runs, axis=1),
}


def _t_sum(df: float, alpha: float, power: float) -> float:
    """t_{1 - alpha/2, df} + t_{power, df}: the standard errors a difference must span to be detected."""
    return float(sps.t.ppf(1 - alpha / 2, df) + sps.t.ppf(power, df))


def detectable_difference(x: np.ndarray, y: np.ndarray, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest difference of means that a two-sided Welch t-test at level ``alpha`` detects with
    probability ``power``, given the runs of ``x`` and ``y`` (their sample SDs and counts); NaN with
    fewer than two runs of either. The power analysis of Colas, Sigaud and Oudeyer (2018), "How many
    random seeds?", solved for the difference."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 2 or y.size < 2:
        return float("nan")
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    if vx + vy == 0:
        return 0.0
    df = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))  # Welch-Satterthwaite
    return _t_sum(df, alpha, power) * float(np.sqrt(vx + vy))


def seeds_needed(
    difference: float, sd_x: float, sd_y: float, alpha: float = 0.05, power: float = 0.8, most: int = 10_000
) -> int | None:
    """Runs per arm for a two-sided t-test at level ``alpha`` to detect ``difference`` with probability
    ``power`` when the arms' SDs are ``sd_x`` and ``sd_y``: the smallest n with
    (t_{1-alpha/2, df} + t_{power, df}) * sqrt((sd_x^2 + sd_y^2) / n) <= |difference|, df Welch's for n
    runs per arm (2n - 2 when the SDs are equal). Effect sizes (difference / SD) of 0.5, 1, 1.5 and 2
    give 64, 17, 9 and 6. None above ``most``."""
    variance = sd_x**2 + sd_y**2
    if variance == 0:
        return 2
    if difference == 0:
        return None
    for n in range(2, most + 1):
        df = variance**2 * (n - 1) / (sd_x**4 + sd_y**4)
        if _t_sum(df, alpha, power) * np.sqrt(variance / n) <= abs(difference):
            return n
    return None
