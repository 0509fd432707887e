"""The group-sequential permutation test (the package docstring gives its design and why it holds)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.stats as sps

from harness.sequential.design import Design, verdict


def _components(pairs: Sequence[tuple[int, int]], in_set: np.ndarray) -> tuple[tuple[int, ...], ...]:
    """The arms of the comparisons in ``in_set`` grouped into connected components: under the null of
    that set, the arms of one component have one distribution, so their scores may be relabelled among
    them (and only among them)."""
    parent: dict[int, int] = {}

    def root(a: int) -> int:
        while parent.setdefault(a, a) != a:
            a = parent[a]
        return a

    for c in np.flatnonzero(in_set):
        i, j = pairs[int(c)]
        parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for a in sorted(parent):
        groups.setdefault(root(a), []).append(a)
    return tuple(sorted(tuple(g) for g in groups.values()))


def _relabellings(design: Design, look: int, group: tuple[int, ...], seed: Any) -> np.ndarray:
    """(m n, m M) weights for the m arms of ``group`` at one look: their scores, arm by arm (n each), times
    the weights give each arm's mean under each of M relabellings of the m n scores among the m arms.
    Relabelling 0 is the observed one; the others are uniformly random, drawn from a generator seeded by
    the study seed, the look and the group."""
    m, n, paths = len(group), design.per_look, design.permutations
    entropy = [*np.atleast_1d(seed).tolist(), look, m, *group]
    rng = np.random.default_rng(np.random.SeedSequence([int(x) for x in entropy]))
    order = np.argsort(rng.random((paths, m * n)), axis=1)  # order[b, q]: the score that lands in slot q
    order[0] = np.arange(m * n)
    weights = np.zeros((m * n, m, paths))
    weights[order, (np.arange(m * n) // n)[None, :], np.arange(paths)[:, None]] = 1.0 / n  # slot q is arm q // n's
    return weights.reshape(m * n, m * paths)


def _increments(
    scores: np.ndarray, design: Design, look: int, components: tuple[tuple[int, ...], ...], seed: Any
) -> np.ndarray:
    """(studies, comparisons, M): each comparison's difference of means at one look under each relabelling,
    for comparisons whose arms share a component (0 for the others). ``scores``: (studies, arms, n)."""
    studies, paths = scores.shape[0], design.permutations
    out = np.zeros((studies, len(design.pairs), paths))
    for group in components:
        pooled = scores[:, list(group)].reshape(studies, -1)
        means = (pooled @ _relabellings(design, look, group, seed)).reshape(studies, len(group), paths)
        where = {arm: t for t, arm in enumerate(group)}
        for c, (i, j) in enumerate(design.pairs):
            if i in where and j in where:
                np.subtract(means[:, where[i]], means[:, where[j]], out=out[:, c])
    return out


def _by_partition(design: Design, sets: np.ndarray, rows: np.ndarray) -> dict[tuple[tuple[int, ...], ...], np.ndarray]:
    """``rows`` grouped by the components of their sets."""
    groups: dict[tuple[tuple[int, ...], ...], list[int]] = {}
    for r in rows:
        groups.setdefault(_components(design.pairs, sets[r]), []).append(int(r))
    return {k: np.array(v) for k, v in groups.items() if k}


class _Spending:
    """The boundary sequence of one set of comparisons per study, look by look: which paths have not
    crossed yet (``alive``, (studies, M)) and how many have (``spent``)."""

    def __init__(self, studies: int, permutations: int) -> None:
        self.alive = np.ones((studies, permutations), dtype=bool)
        self.spent = np.zeros(studies, dtype=np.int64)
        self.looks = 0
        self.bound = np.zeros(studies)

    def extend(self, values: np.ndarray, sets: np.ndarray, alpha: float, looks: int) -> np.ndarray:
        """The boundary at the next look: ``values`` (studies, comparisons, M) are that look's path values,
        ``sets`` (studies, comparisons) the comparisons in each study's set. Spends alpha*l/K in all,
        conditioned on the earlier boundaries not crossed; counts of paths are integers, so the spending is
        exact."""
        studies, _, m = values.shape
        self.looks += 1
        top = np.where(sets[:, :, None], values, -np.inf).max(axis=1)  # (studies, M)
        allowed = math.floor(alpha * self.looks / looks * m + 1e-9)
        r = np.clip(allowed - self.spent, 0, m - 1)  # paths that may newly cross at this look
        candidates = np.where(self.alive, top, -np.inf)
        kth = int(r.max())
        largest = -np.partition(-candidates, kth, axis=1)[:, : kth + 1]
        largest.sort(axis=1)
        self.bound = largest[:, ::-1][np.arange(studies), r]  # the (r+1)-th largest surviving value
        crossed = self.alive & (top > self.bound[:, None])  # at most r paths lie above it
        self.spent += crossed.sum(axis=1)
        self.alive &= ~crossed
        return self.bound


def _boundary(paths: Sequence[np.ndarray], sets: np.ndarray, alpha: float, looks: int) -> _Spending:
    """The boundary sequence of each study's set of comparisons over the looks of ``paths`` (each
    (studies, comparisons, M)): the state after the last one, whose ``bound`` is that look's boundary."""
    state = _Spending(sets.shape[0], paths[0].shape[2])
    for values in paths:
        state.extend(values, sets, alpha, looks)
    return state


@dataclass
class Outcome:
    """The sequential test on a batch of studies (one in a real study, thousands in a simulation).

    ``decided_look`` (studies, comparisons): the look at which each comparison was decided, 0 if never;
    ``sign``: +1 when the first arm of the pair scored higher at that look, -1 lower, 0 undecided;
    ``looks_run`` (studies, arms): looks in which each arm got seeds; ``trace``: per look of study 0,
    its statistics and step-down steps (what the record and the report show).
    """

    design: Design
    decided_look: np.ndarray
    sign: np.ndarray
    looks_run: np.ndarray
    looks_done: int
    trace: list[dict[str, Any]] = field(default_factory=list)

    @property
    def open(self) -> np.ndarray:
        return self.decided_look == 0

    @property
    def finished(self) -> np.ndarray:
        """Per study: nothing left to decide, or every look taken."""
        return np.asarray((~self.open).all(axis=1) | (self.looks_done >= self.design.looks))

    def seeds_per_arm(self) -> np.ndarray:
        return self.looks_run * self.design.per_look


def run_test(
    scores: np.ndarray, design: Design, *, seed: Any = None, trace: bool = False, signed_boundary: bool = False
) -> Outcome:
    """The sequential test over the looks in ``scores`` (studies, arms, looks, n): look l's n scores of each
    arm (NaN or anything for an arm that got no seeds at that look: they are never read). Looks beyond
    the data are not taken. ``seed`` (default: the design's) seeds the relabellings.

    The boundary of a set of open comparisons comes from relabelling, within each look, the scores
    among the arms of each connected component of that set (under the set's null those arms have one
    distribution): exact for the set's null, whatever the other arms do, for any number of relabellings.
    ``signed_boundary=True`` reproduces AdaStop's published pitfall (boundary from the signed
    permutation statistic, compared with the absolute one); only the tests use it.
    """
    scores = np.asarray(scores, dtype=float)
    studies, n_arms, available, n = scores.shape
    if n_arms != len(design.arms) or n != design.per_look:
        raise ValueError(f"scores {scores.shape}: expected (studies, {len(design.arms)}, looks, {design.per_look})")
    seed = design.seed if seed is None else seed
    pairs = design.pairs
    n_pairs = len(pairs)
    is_open = np.ones((studies, n_pairs), dtype=bool)
    decided_look = np.zeros((studies, n_pairs), dtype=np.int64)
    sign = np.zeros((studies, n_pairs), dtype=np.int64)
    looks_run = np.zeros((studies, n_arms), dtype=np.int64)
    rows = np.arange(studies)
    # history[l]: (studies, comparisons, M) accumulated differences over looks 1..l+1 under the relabellings
    # of each study's current set (path 0: the observed ones).
    history: list[np.ndarray] = []
    spending = _Spending(studies, design.permutations)
    records: list[dict[str, Any]] = []
    looks_done = 0

    def values(array: np.ndarray) -> np.ndarray:
        return array if signed_boundary else np.abs(array)

    for look in range(1, min(available, design.looks) + 1):
        if not is_open.any():
            break
        looks_done = look
        active_arms = np.zeros((studies, n_arms), dtype=bool)
        for c, (i, j) in enumerate(pairs):
            active_arms[:, i] |= is_open[:, c]
            active_arms[:, j] |= is_open[:, c]
        looks_run += active_arms
        accumulated = history[-1].copy() if history else np.zeros((studies, n_pairs, design.permutations))
        for components, group in _by_partition(design, is_open, rows).items():
            accumulated[group] += _increments(scores[group, :, look - 1], design, look, components, seed)
        history.append(accumulated)
        observed = accumulated[:, :, 0].copy()  # relabelling 0 is the observed one under every partition
        statistic = np.abs(observed)
        direction = np.sign(observed).astype(np.int64)
        current = is_open.copy()
        # The open set is the one the previous look ended with: its boundary sequence continues.
        bound = spending.extend(values(accumulated), current, design.alpha, design.looks)
        stepping = np.asarray(current.any(axis=1))
        steps: list[dict[str, Any]] = []
        while stepping.any():
            masked = np.where(current, statistic, -np.inf)
            best = masked.argmax(axis=1)
            crossed = np.asarray(stepping & (masked[rows, best] > bound))
            if trace and stepping[0]:
                steps.append(
                    {
                        "open": [design.comparisons[c] for c in np.flatnonzero(current[0])],
                        "boundary": float(bound[0]),
                        "decided": design.comparisons[best[0]] if crossed[0] else None,
                    }
                )
            hit = np.flatnonzero(crossed)
            current[hit, best[hit]] = False
            decided_look[hit, best[hit]] = look
            sign[hit, best[hit]] = direction[hit, best[hit]]
            stepping = crossed & current.any(axis=1)
            if stepping.any():
                # A smaller set: its own relabellings and its whole boundary sequence.
                again = np.flatnonzero(stepping)
                for components, group in _by_partition(design, current, again).items():
                    total = np.zeros((group.size, n_pairs, design.permutations))
                    for past in range(1, look + 1):
                        total += _increments(scores[group, :, past - 1], design, past, components, seed)
                        history[past - 1][group] = total
                state = _boundary([values(h[again]) for h in history], current[again], design.alpha, design.looks)
                spending.alive[again], spending.spent[again] = state.alive, state.spent
                bound = bound.copy()
                bound[again] = state.bound
        if trace:
            records.append(
                {
                    "look": look,
                    "statistics": {design.comparisons[c]: float(statistic[0, c]) for c in np.flatnonzero(is_open[0])},
                    "differences": {
                        design.comparisons[c]: float(observed[0, c] / look) for c in np.flatnonzero(is_open[0])
                    },
                    "steps": steps,
                    "decided": {
                        design.comparisons[c]: verdict(design, int(c), int(sign[0, c]))
                        for c in np.flatnonzero(is_open[0] & ~current[0])
                    },
                }
            )
        is_open = current
    return Outcome(design, decided_look, sign, looks_run, looks_done, records)


def tost(x: np.ndarray, y: np.ndarray, margin: float, alpha: float) -> dict[str, Any]:
    """Two one-sided Welch tests of |mean(x) - mean(y)| < margin at level ``alpha``: equivalent when the
    (1 - 2 alpha) interval of the difference lies inside (-margin, margin)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    diff = float(x.mean() - y.mean())
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(vx + vy)
    if se == 0:
        low = high = diff
    else:
        df = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
        half = float(sps.t.ppf(1 - alpha, df)) * se
        low, high = diff - half, diff + half
    return {
        "difference": diff,
        "interval": [low, high],
        "level": alpha,
        "margin": margin,
        "equivalent": bool(-margin < low and high < margin),
    }
