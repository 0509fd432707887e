"""Group-sequential comparisons of arms with a guaranteed family-wise error rate, after AdaStop
(Mathieu et al., "AdaStop: adaptive statistical testing for sound comparisons of deep RL agents",
TMLR 2024, arXiv 2306.10882). Pure numpy and scipy, importing nothing of the harness but its errors: the study
stage runs the looks with it (harness.study.sequential) and the report renders its record without torch.

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

from harness.sequential.design import (
    COMPARE_MODES,
    MIN_PERMUTATIONS,
    NOT_DISTINGUISHED,
    Design,
    comparison_name,
    cost,
    verdict,
)
from harness.sequential.record import (
    RECORD_FORMAT,
    RECORD_NAME,
    analyze,
    design_from,
    read_record,
    record_path,
    scores_array,
    with_analysis,
)
from harness.sequential.simulate import simulate
from harness.sequential.test import Outcome, run_test, tost

__all__ = [
    "COMPARE_MODES",
    "MIN_PERMUTATIONS",
    "NOT_DISTINGUISHED",
    "RECORD_FORMAT",
    "RECORD_NAME",
    "Design",
    "Outcome",
    "analyze",
    "comparison_name",
    "cost",
    "design_from",
    "read_record",
    "record_path",
    "run_test",
    "scores_array",
    "simulate",
    "tost",
    "verdict",
    "with_analysis",
]
