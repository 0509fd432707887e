"""Group-sequential comparisons of arms with a guaranteed family-wise error rate, after AdaStop
(Mathieu et al., "AdaStop: adaptive statistical testing for sound comparisons of deep RL agents",
TMLR 2024, arXiv 2306.10882). Pure numpy: the compare command decides with it which seeds to run,
and the report renders its record without torch.

**Design.** Every arm gets ``per_look`` (n) seeds per look, for at most ``looks`` (K) looks. One
score per seed: the final score of the run (with several envs, the mean over envs of the final score
normalized per env). Comparisons are every pair of arms (``compare="all"``) or the first arm
against each other one (``"reference"``). After look k every open comparison (i, j) is tested with

    T_ij(k) = | sum over looks l <= k of (mean of i's look-l scores - mean of j's look-l scores) |.

**Boundaries.** For each comparison and look, ``permutations`` (at least 10,000) relabellings of the
2n scores of that look between the two arms (path 0 is the observed labelling; the others are
uniformly random, drawn from a generator seeded by the study seed, the look and the pair, so
boundaries are reproducible and do not change when a study is resumed). A *path* accumulates one
relabelling per look; for a set S of comparisons its value at look l is max over S of the absolute
accumulated permuted statistic, the same quantity as the observed statistic. The boundary b_S(l) is
the smallest value such that the paths above it at look l, among those that did not cross
b_S(1..l-1), are at most a fraction alpha*l/K - (fraction crossed before) of all paths: alpha is spent
linearly over the looks and each boundary is conditioned on the earlier ones not having been crossed.

**Step-down.** At look k, with S the open comparisons: if the largest statistic over S exceeds
b_S(k), that comparison is decided (its sign says which arm is better), removed from S, and the
boundary of the smaller S is computed again (its whole sequence, for that set); this repeats until
nothing crosses. An arm with no open comparison gets no more seeds. Comparisons still open after
look K are "not distinguished" (which is not a claim that they are equal).

**Why the family-wise error rate is at most alpha.** Each comparison's permutation distribution uses
only its own two arms (whatever the other arms do); the paths of different comparisons are drawn
independently, so the boundary of a set is that of independent statistics with the comparisons'
exact marginals. For absolute statistics the event "no crossing" is a symmetric convex set per
comparison, and by the Gaussian correlation inequality (Sidak's for one look) the true, positively or
negatively correlated, statistics stay inside all of them at least as often as independent ones: the
boundary is exact for one comparison and conservative for several. With a signed boundary (the
pitfall of AdaStop's published code, kept here only as ``signed_boundary=True`` for the tests that
show it) none of this holds and two identical arms are declared different about twice as often as
alpha. tests/test_sequential.py checks the rate by simulation.

**Equivalence** is a separate claim, made only with a margin declared before the study: for a
comparison not distinguished after the last look, a two one-sided Welch test (TOST) on normalized
scores at level alpha / (number of such comparisons) whose (1 - 2 alpha') interval lies inside
(-margin, margin).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.stats as sps

from harness.errors import UsageError
from harness.run import rundir

#: The study directory's record of a sequential study.
RECORD_NAME = "sequential.json"
RECORD_FORMAT = 1
#: Relabellings per comparison and look that a real study uses (the tests' simulations may use fewer).
MIN_PERMUTATIONS = 10_000
COMPARE_MODES = ("all", "reference")


@dataclass(frozen=True)
class Design:
    """What a sequential study is fixed to before its first look."""

    arms: tuple[str, ...]
    per_look: int = 5
    looks: int = 4
    alpha: float = 0.05
    compare: str = "all"
    equivalence_margin: float | None = None
    permutations: int = MIN_PERMUTATIONS
    seed: int = 0

    def __post_init__(self) -> None:
        if len(self.arms) < 2:
            raise UsageError(f"a sequential study compares at least two arms, got {', '.join(self.arms) or 'none'}")
        if self.compare not in COMPARE_MODES:
            raise UsageError(f"--compare: expected one of {', '.join(COMPARE_MODES)}, got {self.compare!r}")
        if not 0 < self.alpha < 1:
            raise UsageError(f"--alpha: expected a level between 0 and 1, got {self.alpha}")
        if self.per_look < 1 or self.looks < 1:
            raise UsageError(f"--per-look and --looks must be positive, got {self.per_look} and {self.looks}")
        if self.permutations < 2:
            raise UsageError(f"permutations: expected at least 2, got {self.permutations}")
        if self.equivalence_margin is not None and not self.equivalence_margin > 0:
            raise UsageError(f"--equivalence-margin: expected a positive number, got {self.equivalence_margin}")

    @property
    def pairs(self) -> list[tuple[int, int]]:
        """The comparisons as (i, j) indices into ``arms``: every pair, or the first arm against each other."""
        n = len(self.arms)
        if self.compare == "reference":
            return [(0, j) for j in range(1, n)]
        return [(i, j) for i in range(n) for j in range(i + 1, n)]

    @property
    def comparisons(self) -> list[str]:
        return [comparison_name(self.arms[i], self.arms[j]) for i, j in self.pairs]

    def seeds(self, look: int, offset: int = 0) -> tuple[int, ...]:
        """The seeds of look ``look`` (1-based): n new ones per look."""
        start = offset + (look - 1) * self.per_look
        return tuple(range(start, start + self.per_look))

    def smallest_p(self) -> float:
        """The smallest two-sided p-value one look's exact permutation test can reach, 2 / C(2n, n)."""
        return 2 / math.comb(2 * self.per_look, self.per_look)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["arms"] = list(self.arms)
        return d


def comparison_name(x: str, y: str) -> str:
    return f"{x} vs {y}"


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


def verdict(design: Design, comparison: int, sign: int) -> str:
    i, j = design.pairs[comparison]
    return f"{design.arms[i]} better" if sign > 0 else f"{design.arms[j]} better"


NOT_DISTINGUISHED = "not distinguished"


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


# --- the record on disk ---------------------------------------------------------------------------


def record_path(study_dir: Path) -> Path:
    return Path(study_dir) / RECORD_NAME


def read_record(study_dir: Path) -> dict[str, Any] | None:
    """The study's sequential record, None if it has none; UsageError if it cannot be read."""
    import json

    path = record_path(study_dir)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path} cannot be read ({exc}); restore it from a copy, or choose another --study") from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT or "design" not in record:
        raise UsageError(f"{path} is not a sequential record of format {RECORD_FORMAT}")
    return record


def design_from(record: dict[str, Any]) -> Design:
    d = dict(record["design"])
    d["arms"] = tuple(d["arms"])
    return Design(**d)


def scores_array(record: dict[str, Any], design: Design) -> np.ndarray:
    """The record's look scores as (1, arms, looks, n), NaN where an arm got no seeds."""
    looks = record.get("looks", [])
    out = np.full((1, len(design.arms), len(looks), design.per_look), np.nan)
    for k, look in enumerate(looks):
        for a, arm in enumerate(design.arms):
            if arm in look["scores"]:
                out[0, a, k] = look["scores"][arm]
    return out


def analyze(record: dict[str, Any]) -> dict[str, Any]:
    """The record's looks replayed through the test: per look its statistics, boundaries and decisions;
    per comparison its verdict, the look that decided it and (after the last look) the equivalence test.
    Deterministic: the same scores and design give the same numbers, so a resumed study agrees with itself."""
    design = design_from(record)
    outcome = run_test(scores_array(record, design), design, trace=True)
    looks = record.get("looks", [])
    finished = bool(outcome.finished[0]) if looks else False
    verdicts: dict[str, dict[str, Any]] = {}
    undecided = [c for c in range(len(design.pairs)) if outcome.decided_look[0, c] == 0]
    for c, name in enumerate(design.comparisons):
        look = int(outcome.decided_look[0, c])
        verdicts[name] = {
            "verdict": verdict(design, c, int(outcome.sign[0, c]))
            if look
            else (NOT_DISTINGUISHED if finished else "open"),
            "look": look or None,
        }
    normalization = record.get("normalization")
    if finished and design.equivalence_margin is not None and undecided and normalization:
        level = design.alpha / len(undecided)
        low, scale = normalization
        for c in undecided:
            i, j = design.pairs[c]
            x = (np.concatenate([lk["scores"][design.arms[i]] for lk in looks]) - low) / scale
            y = (np.concatenate([lk["scores"][design.arms[j]] for lk in looks]) - low) / scale
            test = tost(x, y, design.equivalence_margin, level)
            verdicts[design.comparisons[c]]["equivalence"] = test
            if test["equivalent"]:
                verdicts[design.comparisons[c]]["verdict"] = f"equivalent within ±{design.equivalence_margin:g}"
    seeds = {arm: int(outcome.seeds_per_arm()[0, a]) for a, arm in enumerate(design.arms)}
    next_arms = (
        []
        if finished
        else [
            design.arms[a]
            for a in range(len(design.arms))
            if any(outcome.open[0, c] and a in design.pairs[c] for c in range(len(design.pairs)))
        ]
    )
    return {
        "looks": outcome.trace,
        "verdicts": verdicts,
        "seeds_per_arm": seeds,
        "finished": finished,
        "next_look": None if finished else len(looks) + 1,
        "next_arms": next_arms,
    }


def write_record(study_dir: Path, record: dict[str, Any]) -> None:
    """Replay the looks, store their statistics, boundaries and decisions beside the scores, and write."""
    analysis = analyze(record)
    for look, replay in zip(record["looks"], analysis["looks"], strict=True):
        look.update({k: v for k, v in replay.items() if k != "look"})
    record["verdicts"] = analysis["verdicts"]
    record["seeds_per_arm"] = analysis["seeds_per_arm"]
    record["finished"] = analysis["finished"]
    rundir.write_json(record_path(study_dir), record)


def cost(design: Design, envs: int) -> tuple[int, int]:
    """Runs in the best case (everything decided at the first look) and in the worst (every arm, every look)."""
    per_look = len(design.arms) * envs * design.per_look
    return per_look, per_look * design.looks


# --- simulation -------------------------------------------------------------------------------------


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
