import numpy as np
import pytest

from harness import stats
from harness.calibrate import makespan


def test_iqm_exact():
    assert stats.iqm(np.arange(1, 9)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert stats.iqm([10.0, 0.0, 1.0, 2.0]) == pytest.approx(1.5)  # middle two of 0, 1, 2, 10


def test_bootstrap_ci_is_deterministic_and_brackets_the_mean():
    x = np.array([-200.0, -150.0, -170.0, -400.0, -160.0])
    lo, hi = stats.bootstrap_ci(x, reps=5000, seed=3)
    assert (lo, hi) == stats.bootstrap_ci(x, reps=5000, seed=3)
    assert x.min() <= lo < x.mean() < hi <= x.max()


def test_bootstrap_ci_degenerate_cases():
    assert stats.bootstrap_ci(np.array([5.0, 5.0, 5.0])) == (5.0, 5.0)
    assert stats.bootstrap_ci(np.array([7.0])) == (7.0, 7.0)


def test_bootstrap_ci_two_values_exact_percentiles():
    # Resampled means of [0, 1] are 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4:
    # the 2.5th percentile is 0 and the 97.5th is 1.
    assert stats.bootstrap_ci(np.array([0.0, 1.0]), reps=20000) == (0.0, 1.0)


def test_makespan_longest_first():
    assert makespan([3, 3, 2, 2, 2], 2) == 7  # 3+2+2 | 3+2: greedy, not the optimum 6
    assert makespan([10, 1, 1], 2) == 10
    assert makespan([], 4) == 0
